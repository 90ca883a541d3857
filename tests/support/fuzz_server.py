"""A real `runtime-api serve` for the fuzz tests (REST and GraphQL): its own migrated database
on the real backend, an in-server agent worker (runs must be executed, with or without Redis),
and a user signed up through the console mailer's log."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

from tests.support.backend import detect
from tests.support.server_process import ServerProcess, run_cli, running_server

BACKEND = detect()


@contextlib.contextmanager
def fuzz_database(label: str, migrate_cwd: Path) -> Iterator[dict[str, str]]:
    """The environment of a fresh, migrated database (nothing on the embedded backend)."""
    if BACKEND.database_url is None:
        yield {}
        return
    admin_url = BACKEND.database_url
    name = f"rt_{label}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        await connection.execute(sql)
        await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    env = {
        "DATABASE_URL": admin_url.rsplit("/", 1)[0] + "/" + name,
        "REDIS_URL": BACKEND.redis_url or "",
        "REDIS_PREFIX": f"rt-{label}-{uuid.uuid4().hex[:8]}:",
    }
    try:
        migrated = run_cli("migrate", cwd=migrate_cwd, env=env)
        assert migrated.returncode == 0, migrated.stderr
        yield env
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fuzz_server(label: str, cwd: Path, database_env: dict[str, str]) -> Iterator[ServerProcess]:
    env = {
        "JWT_SECRET": f"{label}-secret-" + "x" * 32,
        # POST /agent and startAgentRun wait for or queue runs: someone must execute them.
        "AGENT_WORKER_IN_SERVER": "true",
        **database_env,
    }
    with running_server(cwd, env) as process:
        yield process


def sign_up(server: ServerProcess, label: str) -> str:
    """A confirmed user's access token."""
    tag = uuid.uuid4().hex[:8]
    email = f"{label}-{tag}@example.com"
    with httpx.Client(base_url=server.base_url + "/api/v1") as client:
        mark = len(server.log())
        r = client.post(
            "/auth/verifications",
            json={"username": label + tag[:4], "email": email, "password": "fuzz-pass"},
        )
        assert r.status_code == 202, r.text
        code = server.wait_for_log(r"Use the code (\d{6})", after=mark).group(1)
        r = client.post("/auth/verify", json={"type": "signup", "email": email, "token": code})
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token
