"""Which backend the suite runs on: PostgreSQL + Redis when they answer, SQLite + in-process
otherwise. RUNTIME_API_REQUIRE_SERVICES=1 (set by .ci/run) turns "not reachable" into a failure,
RUNTIME_API_TEST_BACKEND=embedded forces the embedded backend."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Backend:
    name: str  # "postgres+redis" | "embedded"
    database_url: str | None  # the maintenance database on PostgreSQL
    redis_url: str | None

    @property
    def real(self) -> bool:
        return self.database_url is not None


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return True
    except OSError:
        return False


def detect() -> Backend:
    wanted = os.environ.get("RUNTIME_API_TEST_BACKEND", "auto")
    if wanted == "embedded":
        return Backend("embedded", None, None)
    reachable = _answers(PG_URL) and _answers(REDIS_URL)
    if reachable:
        return Backend("postgres+redis", PG_URL, REDIS_URL)
    if wanted == "real" or os.environ.get("RUNTIME_API_REQUIRE_SERVICES") == "1":
        raise RuntimeError(
            f"PostgreSQL ({PG_URL}) or Redis ({REDIS_URL}) is not reachable, "
            "and RUNTIME_API_REQUIRE_SERVICES=1 demands them"
        )
    return Backend("embedded", None, None)


def require_services() -> bool:
    return os.environ.get("RUNTIME_API_REQUIRE_SERVICES") == "1"
