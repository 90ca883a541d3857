"""The bench's own data: a fresh PostgreSQL database, a Redis prefix, one signed-up viewer
whose list holds 50 items (own + shared), and other users' items for the growth step.

The viewer signs up through REST (the code is read from the console mailer's log, which shows
its mails whatever LOG_LEVEL says); the other users and all items are written with SQL, in bulk.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import dataclass

import asyncpg
import httpx
from redis.asyncio import Redis

from bench import recurring as recurring_items
from bench.processes import Server

ADMIN_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery staple"
OTHER_USERS = 20  # the other users' items are spread over these (one of them shares with us)

# The SQL equivalent of resolvers/schedule.list_items without a range (Tortoise's query) plus
# the permissions query of resolvers/access.permissions_for: what the growth step EXPLAINs.
LIST_QUERY = """
SELECT id, title, description, start_at, end_at, timezone, metadata, status, source_type,
       created_at, updated_at, deleted_at, owner_id
FROM schedule_items
WHERE (owner_id = $1 OR id IN (SELECT item_id FROM schedule_subscriptions WHERE user_id = $1))
  AND deleted_at IS NULL
ORDER BY start_at ASC, id ASC
"""
PERMISSIONS_QUERY = """
SELECT item_id, permission FROM schedule_subscriptions WHERE user_id = $1 AND item_id = ANY($2)
"""


def database_url(name: str) -> str:
    return f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{name}"


async def create_database() -> str:
    name = f"rt_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DATABASE_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DATABASE_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def delete_redis_keys(prefix: str) -> int:
    redis = Redis.from_url(REDIS_URL)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += await redis.delete(*batch)
                batch.clear()
        if batch:
            deleted += await redis.delete(*batch)
    finally:
        await redis.aclose()
    return deleted


@dataclass
class Viewer:
    user_id: str
    email: str
    token: str


async def sign_up(server: Server, username: str) -> Viewer:
    """A real sign-up through REST; the code comes from the console mailer's log."""
    email = f"{username}@example.com"
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api/v1", timeout=30) as client:
        body = {"username": username, "email": email, "password": PASSWORD}
        response = await client.post("/auth/verifications", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"sign-up: {response.status_code} {response.text}")
        child = server.child
        mail = await asyncio.to_thread(child.wait_for_log, f"mail to {re.escape(email)} ")
        code = await asyncio.to_thread(child.wait_for_log, r"\b\d{6}\b", after=mail.end())
        verify = {"type": "signup", "email": email, "token": code.group(0)}
        response = await client.post("/auth/verify", json=verify)
        if response.status_code != 200:
            raise RuntimeError(f"verify: {response.status_code} {response.text}")
    session = response.json()
    return Viewer(session["user"]["id"], email, session["access_token"])


async def sign_in(server: Server, email: str) -> str:
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api/v1", timeout=30) as client:
        response = await client.post("/auth/sessions", json={"email": email, "password": PASSWORD})
        if response.status_code != 200:
            raise RuntimeError(f"sign-in: {response.status_code} {response.text}")
        token: str = response.json()["access_token"]
        return token


_INSERT_ITEMS = """
INSERT INTO schedule_items (id, owner_id, title, description, start_at, end_at, timezone,
                            metadata, status, source_type, created_at, updated_at)
SELECT gen_random_uuid(), $1::uuid, $2 || ' #' || n,
       'Bench item ' || n || ': a description of moderate length, as people write them.',
       timestamptz '2026-01-05 08:00+00' + (n * interval '97 minutes'),
       timestamptz '2026-01-05 09:00+00' + (n * interval '97 minutes'),
       'Europe/Berlin', '{"color": "#3366FF", "tags": ["bench"]}'::jsonb, 'active', 'manual',
       now(), now()
FROM generate_series($3::int, $4::int) AS n
RETURNING id
"""


async def _insert_items(
    conn: asyncpg.Connection, owner: str, title: str, first: int, count: int
) -> list[uuid.UUID]:
    rows = await conn.fetch(_INSERT_ITEMS, owner, title, first, first + count - 1)
    return [row["id"] for row in rows]


async def seed(db_url: str, viewer_id: str, own: int, shared: int, others: int) -> list[str]:
    """Own and shared items of the viewer, and `others` items of other users; returns the
    other users' ids."""
    conn = await asyncpg.connect(db_url)
    try:
        others_ids = [str(uuid.uuid4()) for _ in range(OTHER_USERS)]
        await conn.executemany(
            """INSERT INTO users (id, username, username_key, email, email_key, password_hash,
                                  role, created_at, email_confirmed_at)
               VALUES ($1::uuid, $2, $2, $3, $3, '!unusable', 'authenticated', now(), now())""",
            [(uid, f"other{i}", f"other{i}@example.com") for i, uid in enumerate(others_ids)],
        )
        await _insert_items(conn, viewer_id, "Own item", 1, own)
        shared_ids = await _insert_items(conn, others_ids[0], "Shared item", 1, shared)
        await conn.executemany(
            """INSERT INTO schedule_subscriptions (id, item_id, user_id, permission, created_at)
               VALUES (gen_random_uuid(), $1, $2::uuid, 1, now())""",
            [(item, viewer_id) for item in shared_ids],
        )
        await add_other_items(conn, others_ids, others, first=shared + 1)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return others_ids


async def add_other_items(
    conn: asyncpg.Connection, others_ids: list[str], count: int, *, first: int
) -> None:
    """`count` items spread over the other users, numbered from `first` (one SQL per user)."""
    per_user, extra = divmod(count, len(others_ids))
    start = first
    for i, owner in enumerate(others_ids):
        n = per_user + (1 if i < extra else 0)
        if n:
            await conn.execute(
                _INSERT_ITEMS.replace("RETURNING id", ""), owner, "Other item", start, start + n - 1
            )
            start += n


async def count_items(db_url: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        value: int = await conn.fetchval("SELECT count(*) FROM schedule_items")
        return value
    finally:
        await conn.close()


async def grow(db_url: str, others_ids: list[str], target_other: int, recurring: int) -> None:
    """Bring other users' items up to `target_other`, `recurring` of them series (in turn over
    the users, bench/recurring.py), then ANALYZE."""
    conn = await asyncpg.connect(db_url)
    try:
        current = await conn.fetchval(
            "SELECT count(*) FROM schedule_items WHERE owner_id = ANY($1::uuid[])", others_ids
        )
        singles = target_other - recurring
        if singles > current:
            await add_other_items(conn, others_ids, singles - current, first=current + 1)
        await recurring_items.insert_series(
            conn, others_ids, recurring_items.other_series(recurring)
        )
        await conn.execute("VACUUM ANALYZE schedule_items")
        await conn.execute("ANALYZE schedule_subscriptions")
    finally:
        await conn.close()


async def capture_queries(db_name: str, stop: asyncio.Event) -> set[str]:
    """The texts of the server's statements on schedule_items, sampled from pg_stat_activity
    while a load runs: what the server really executes, whatever its code looks like today."""
    conn = await asyncpg.connect(ADMIN_DATABASE_URL)
    seen: set[str] = set()
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                """SELECT query FROM pg_stat_activity
                   WHERE datname = $1 AND query ILIKE '%schedule_items%'
                     AND query NOT ILIKE '%pg_stat_activity%'""",
                db_name,
            )
            seen.update(row["query"] for row in rows)
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return seen


async def explain_captured(db_url: str, viewer_id: str, queries: set[str]) -> str:
    """EXPLAIN ANALYZE of each captured statement whose only parameter is the viewer."""
    conn = await asyncpg.connect(db_url)
    lines: list[str] = []
    try:
        for query in sorted(queries):
            params = set(re.findall(r"\$(\d+)", query))
            if params - {"1"} or not query.lstrip().upper().startswith(("SELECT", "WITH", "(")):
                continue
            lines += ["-- captured from the server (pg_stat_activity)", query.strip()]
            args = [uuid.UUID(viewer_id)] if params else []
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
            lines += [row[0] for row in rows] + [""]
    finally:
        await conn.close()
    return "\n".join(lines)


async def explain(db_url: str, viewer_id: str) -> str:
    conn = await asyncpg.connect(db_url)
    try:
        lines = ["-- list_items", LIST_QUERY.strip()]
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + LIST_QUERY, uuid.UUID(viewer_id))
        lines += [row[0] for row in rows]
        viewer = uuid.UUID(viewer_id)
        rows = await conn.fetch(LIST_QUERY, viewer)
        ids = [r["id"] for r in rows if r["owner_id"] != viewer]  # as permissions_for
        lines += ["", "-- permissions_for", PERMISSIONS_QUERY.strip()]
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + PERMISSIONS_QUERY, uuid.UUID(viewer_id), ids
        )
        lines += [row[0] for row in rows]
        return "\n".join(lines)
    finally:
        await conn.close()
