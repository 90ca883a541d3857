"""Many users at once, written with SQL: a user row, a live session each, and an access token
minted for that session with the bench's JWT_SECRET.

Signing 1,000 users up through REST would cost minutes (a code mail and an Argon2id hash
each); what the fan-out scenarios need is only valid sessions. The tokens carry the claims
`infra/tokens.AccessTokens.issue` writes (sub, email, sid, role, aud, iat, exp), so the server
verifies them like its own, and their `auth_sessions` rows exist and are not revoked, so every
session check (at the handshake, and the streams' re-checks) passes.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import asyncpg
import jwt

TOKEN_TTL_S = 3600


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    token: str


def mint_token(secret: str, user_id: str, email: str, session_id: str) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "email": email,
        "sid": session_id,
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + TOKEN_TTL_S,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def add_members(db_url: str, secret: str, label: str, count: int) -> list[Member]:
    """`count` users named `<label><i>` with one live session and a token each."""
    rows = [
        (str(uuid.uuid4()), str(uuid.uuid4()), f"{label}{i}", f"{label}{i}@example.com")
        for i in range(count)
    ]
    conn = await asyncpg.connect(db_url)
    try:
        async with conn.transaction():
            await conn.executemany(
                """INSERT INTO users (id, username, username_key, email, email_key,
                                      password_hash, role, created_at, email_confirmed_at)
                   VALUES ($1::uuid, $2, $2, $3, $3, '!unusable', 'authenticated', now(), now())""",
                [(uid, name, email) for uid, _, name, email in rows],
            )
            await conn.executemany(
                """INSERT INTO auth_sessions (id, user_id, created_at)
                   VALUES ($1::uuid, $2::uuid, now())""",
                [(sid, uid) for uid, sid, _, _ in rows],
            )
    finally:
        await conn.close()
    return [Member(uid, email, mint_token(secret, uid, email, sid)) for uid, sid, _, email in rows]


async def create_item(db_url: str, owner_id: str, title: str) -> str:
    conn = await asyncpg.connect(db_url)
    try:
        item_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO schedule_items (id, owner_id, title, description, start_at, end_at,
                                           timezone, metadata, status, source_type,
                                           created_at, updated_at)
               VALUES (gen_random_uuid(), $1::uuid, $2, 'Shared with everyone of the bench.',
                       timestamptz '2026-06-01 09:00+00', timestamptz '2026-06-01 10:00+00',
                       'UTC', '{}'::jsonb, 'active', 'manual', now(), now())
               RETURNING id""",
            owner_id,
            title,
        )
    finally:
        await conn.close()
    return str(item_id)


async def share_with(db_url: str, item_id: str, members: list[Member], permission: int) -> None:
    """Accepted shares (`schedule_subscriptions` rows), as if each had accepted an invitation."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.executemany(
            """INSERT INTO schedule_subscriptions (id, item_id, user_id, permission, created_at)
               VALUES (gen_random_uuid(), $1::uuid, $2::uuid, $3, now())""",
            [(item_id, m.user_id, permission) for m in members],
        )
        await conn.execute("ANALYZE users")
        await conn.execute("ANALYZE schedule_subscriptions")
    finally:
        await conn.close()
