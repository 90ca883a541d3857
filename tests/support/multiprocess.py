"""Real `runtime-api` processes over one PostgreSQL database and one Redis: a fresh database,
several servers side by side, and a sign-up through the console mailer's log."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.support.backend import detect
from tests.support.server_process import ServerProcess, running_server

BACKEND = detect()


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    assert BACKEND.database_url is not None
    name = f"rt_multiprocess_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(BACKEND.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{BACKEND.database_url.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(BACKEND.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def shared_env(database_url: str, redis_url: str, label: str, **extra: str) -> dict[str, str]:
    """The environment of server and worker processes that share one database and one Redis
    (under a fresh key prefix), with cheap password hashes; `extra` adds or overrides."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"rt-{label}-{uuid.uuid4().hex[:8]}:",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "1024",
        **extra,
    }


@contextlib.asynccontextmanager
async def servers(root: Path, env: dict[str, str], count: int) -> AsyncIterator[list[Any]]:
    """`count` servers started side by side (each waits for its health check in a thread)."""
    with contextlib.ExitStack() as stack:
        started = await asyncio.gather(
            *(
                asyncio.to_thread(stack.enter_context, running_server(root / f"s{i}", env))
                for i in range(count)
            ),
            return_exceptions=True,
        )
        for result in started:
            if isinstance(result, BaseException):
                raise result
        try:
            yield started
        finally:
            await asyncio.to_thread(stack.close)


async def gql(server: ServerProcess, query: str, variables: dict[str, Any], token: str) -> Any:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return next(iter(body["data"].values()))


async def sign_up(server: ServerProcess, username: str) -> dict[str, str]:
    """A real sign-up through REST; the code is read from the console mailer's log."""
    email = f"{username}@example.com"
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api/v1", timeout=10) as client:
        body = {"username": username, "email": email, "password": "correct horse"}
        response = await client.post("/auth/verifications", json=body)
        assert response.status_code == 202, response.text
        mail = await asyncio.to_thread(server.wait_for_log, f"mail to {re.escape(email)} ")
        code = await asyncio.to_thread(server.wait_for_log, r"\b\d{6}\b", after=mail.end())
        verify = {"type": "signup", "email": email, "token": code.group(0)}
        response = await client.post("/auth/verify", json=verify)
        assert response.status_code == 200, response.text
    session = response.json()
    return {"id": session["user"]["id"], "username": username, "token": session["access_token"]}
