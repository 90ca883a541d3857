"""One bench run's deployment: its database, Redis prefix, server, workers, floor and viewer."""

from __future__ import annotations

import secrets
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import seed
from bench.processes import (
    REGISTRY,
    Child,
    Server,
    run_cli,
    start_floor,
    start_server,
    start_worker,
)
from bench.profile import Profile

# High enough never to answer 429 to the bench (sign-up, sign-in loops).
RATE_LIMITS = {
    name: "1000000/minute"
    for name in (
        "RATE_LIMIT_SIGNUP_IP",
        "RATE_LIMIT_CODE_INTERVAL",
        "RATE_LIMIT_CODE_EMAIL_HOURLY",
        "RATE_LIMIT_CODE_IP_HOURLY",
        "RATE_LIMIT_VERIFY_EMAIL",
        "RATE_LIMIT_VERIFY_IP",
        "RATE_LIMIT_LOGIN_EMAIL",
        "RATE_LIMIT_LOGIN_IP",
    )
}


class ServerFault(Exception):
    """The server answered wrongly (status, errors, item count): a FAIL, not a crash."""


@dataclass
class Row:
    """One line of the table: measured / target / verdict (PASS, FAIL, INFO or ERROR)."""

    scenario: str
    measured: str
    target: str
    verdict: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Bench:
    profile: Profile
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rt-bench-")))
    db_name: str | None = None
    redis_prefix: str = field(default_factory=lambda: f"rt-bench-{uuid.uuid4().hex[:10]}:")
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    server: Server | None = None
    floor: Server | None = None
    workers: list[Child] = field(default_factory=list)
    viewer: seed.Viewer | None = None
    others: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # figures shared between scenarios

    @property
    def db_url(self) -> str:
        assert self.db_name is not None
        return seed.database_url(self.db_name)

    def env(self, **extra: str) -> dict[str, str]:
        """The server's configuration: production, PostgreSQL + Redis, offline model."""
        return {
            "ENV": "production",
            "JWT_SECRET": self.jwt_secret,
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.db_url,
            "REDIS_URL": seed.REDIS_URL,
            "REDIS_PREFIX": self.redis_prefix,
            "AGENT_MODEL": "offline",
            "AGENT_WORKER_IN_SERVER": "false",
            **RATE_LIMITS,
            # One user holds every fan-out subscriber (a thread has one owner): lift the
            # per-user cap on open streams (default 20 per process).
            "MAX_STREAMS_PER_USER": "1000000",
            "MAX_WS_CONNECTIONS_PER_USER": "1000000",
            **extra,
        }

    async def setup(self) -> None:
        self.db_name = await seed.create_database()
        run_cli(["migrate"], self.env(), self.work_dir)
        self.server = start_server("server", self.env(), self.work_dir)
        self.viewer = await seed.sign_up(self.server, "benchviewer")
        p = self.profile
        self.others = await seed.seed(
            self.db_url, self.viewer.user_id, p.own_items, p.shared_items, p.other_items_small
        )

    def start_floor(self) -> Server:
        if self.floor is None:
            env = {"DATABASE_URL": self.db_url, "JWT_SECRET": self.jwt_secret}
            self.floor = start_floor(env, self.work_dir)
        return self.floor

    def stop_floor(self) -> None:
        if self.floor is not None:
            REGISTRY.stop(self.floor.child)
            self.floor = None

    def ensure_workers(self, count: int) -> None:
        while len(self.workers) < count:
            name = f"worker{len(self.workers) + 1}"
            # INFO: the worker says "ready" at INFO (it logs nothing else per run).
            env = self.env(LOG_LEVEL="INFO")
            self.workers.append(start_worker(name, env, self.work_dir))

    async def cleanup(self) -> list[str]:
        """Drop the database and the Redis keys; returns what went wrong (never raises)."""
        problems: list[str] = []
        if self.db_name is not None:
            try:
                await seed.drop_database(self.db_name)
            except Exception as exc:
                problems.append(f"could not drop database {self.db_name}: {exc}")
        try:
            await seed.delete_redis_keys(self.redis_prefix)
        except Exception as exc:
            problems.append(f"could not delete Redis keys {self.redis_prefix}*: {exc}")
        return problems
