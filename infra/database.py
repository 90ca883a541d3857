"""Tortoise ORM set-up: connection config, start-up, migrations.

The same migrations (models/migrations, written by `tortoise makemigrations`) run on PostgreSQL
and SQLite. The asyncpg pool is sized from the environment because Tortoise's default (5) starves
a server process under load.

An unreachable PostgreSQL must not hang requests (docs/operations.md): every wait on it is
bounded — connecting (`DATABASE_CONNECT_TIMEOUT_S`), waiting for a pooled connection
(`DATABASE_ACQUIRE_TIMEOUT_S`) and each statement (`DATABASE_COMMAND_TIMEOUT_S`) — and a
connection that failed or timed out is discarded rather than returned to the pool, so the pool
heals by itself when the database is back. `unreachable_service` tells the error handlers which
exceptions mean "a dependency is down" (503 / SERVICE_UNAVAILABLE) rather than a bug (500).
"""

from __future__ import annotations

import errno
import logging
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from limits.errors import StorageError
from redis.exceptions import RedisError
from tortoise import Tortoise
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.exceptions import BaseORMException, DBConnectionError
from tortoise.migrations.executor import MigrationExecutor

from config import Settings
from infra.redis_client import redis_unreachable

log = logging.getLogger(__name__)

MODELS_MODULE = "models"
MIGRATIONS_MODULE = "models.migrations"
APP_LABEL = "models"


def _pooled_url(settings: Settings) -> str:
    """Add pool sizes to a PostgreSQL URL unless the URL sets them."""
    url = settings.database_url
    if not settings.uses_postgres:
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("minsize", str(settings.database_pool_min))
    query.setdefault("maxsize", str(settings.database_pool_max))
    scheme = "asyncpg" if parts.scheme in {"postgres", "postgresql"} else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class ResilientPool(asyncpg.Pool):  # type: ignore[misc]
    """asyncpg's pool with a default acquire timeout, and a release that never waits on a
    connection the database stopped answering: such a connection is terminated, and the pool
    opens a fresh one on a later acquire."""

    acquire_timeout: float | None = None

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)

    async def release(
        self,
        connection: Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's signature
    ) -> None:
        if connection is not None and not connection.is_closed() and _stalled(connection):
            # A statement timed out and asyncpg is cancelling it on the server: over a dead
            # network that cancel never completes, and waiting for it would hold the request.
            connection.terminate()
        try:
            await super().release(
                connection, timeout=self.acquire_timeout if timeout is None else timeout
            )
        except Exception as exc:
            # The pool has terminated the connection already (a failed reset); the caller's own
            # error, if any, is the one that matters.
            if unreachable_service(exc) is None:
                raise
            log.debug("discarded a database connection: %r", exc)


def _stalled(connection: Any) -> bool:
    protocol = getattr(connection, "_protocol", None)
    is_cancelling = getattr(protocol, "_is_cancelling", None)
    try:
        return bool(is_cancelling()) if callable(is_cancelling) else False
    except Exception:  # a private asyncpg API: if it changes, fall back to asyncpg's release
        return False


class ResilientAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client on a `ResilientPool` (`acquire_timeout` comes from the
    connection's credentials)."""

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        acquire_timeout = kwargs.pop("acquire_timeout", None)
        kwargs.setdefault("max_queries", 50_000)
        kwargs.setdefault("max_inactive_connection_lifetime", 300.0)
        kwargs.setdefault("record_class", asyncpg.Record)
        kwargs.setdefault("connection_class", asyncpg.Connection)
        kwargs.setdefault("loop", None)
        pool = ResilientPool(None, **kwargs)
        pool.acquire_timeout = None if acquire_timeout is None else float(acquire_timeout)
        return await pool


# Tortoise loads a connection's client from its engine module's `client_class`.
client_class = ResilientAsyncpgClient


def _connection_config(settings: Settings) -> str | dict[str, Any]:
    if not settings.uses_postgres:
        return settings.database_url
    config = expand_db_url(_pooled_url(settings))
    credentials = config["credentials"]
    credentials["timeout"] = float(settings.database_connect_timeout_s)
    credentials.setdefault("acquire_timeout", settings.database_acquire_timeout_s)
    credentials.setdefault("command_timeout", settings.database_command_timeout_s)
    config["engine"] = __name__
    return config


_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)


def _database_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, DBConnectionError | asyncpg.PostgresConnectionError):
        return True
    if isinstance(
        exc,
        asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.OperatorInterventionError  # shutdown, statement cancelled
        | asyncpg.exceptions.TooManyConnectionsError,
    ):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection" in str(exc).lower()  # "connection is closed", not a misuse
    if isinstance(exc, TimeoutError | ConnectionError | socket.gaierror):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


# What a request that needs an unreachable service answers (REST 503, GraphQL
# SERVICE_UNAVAILABLE), with `Retry-After` / `extensions.retryAfter` in seconds.
RETRY_AFTER_S = 2
UNAVAILABLE_DETAIL = {
    "database": "The database is temporarily unavailable. Try again in a moment.",
    "redis": "A service this request needs is temporarily unavailable. Try again in a moment.",
}


# The exception classes `unreachable_service` can recognise, itself or by their cause (for
# handlers registered per class).
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # ConnectionError, TimeoutError, socket errors
    BaseORMException,  # DBConnectionError, OperationalError caused by a lost connection
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    RedisError,
    StorageError,
)


def unreachable_service(exc: BaseException) -> str | None:
    """`"database"` or `"redis"` when `exc` (or what caused it) means that service could not be
    reached or did not answer in time; None for any other error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        if redis_unreachable(current):
            return "redis"
        if _database_unreachable(current):
            return "database"
        current = current.__cause__ or current.__context__
    return None


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": _connection_config(settings)},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def sqlite_file(settings: Settings) -> Path | None:
    """The absolute path of the SQLite database file; None on PostgreSQL or in memory."""
    if settings.uses_postgres:
        return None
    path = settings.database_url.split("://", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).resolve()


def _ensure_sqlite_directory(settings: Settings) -> None:
    path = sqlite_file(settings)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


async def init_database(settings: Settings, *, create_db: bool = False) -> None:
    _ensure_sqlite_directory(settings)
    await Tortoise.init(
        config=tortoise_config(settings), _create_db=create_db, _enable_global_fallback=True
    )


async def apply_migrations(settings: Settings) -> None:
    """Apply every pending migration on the already initialised connection."""
    executor = MigrationExecutor(get_connection("default"), tortoise_config(settings)["apps"])
    await executor.migrate(
        progress=lambda event, app, name: log.info("migration %s %s.%s", event, app, name)
    )


async def close_database() -> None:
    await Tortoise.close_connections()
    # Allow a later init in the same process (tests, CLI commands that run several steps).
    import tortoise.context as tortoise_context

    tortoise_context._global_context = None


async def ping_database() -> None:
    await get_connection("default").execute_query("SELECT 1")


def pool_usage() -> tuple[int, int] | None:
    """(connections in use, idle connections) of this process's PostgreSQL pool; None on SQLite
    or before the pool exists (for the pool gauge, observability.metrics)."""
    try:
        pool = getattr(get_connection("default"), "_pool", None)
    except Exception:  # no connection configured in this process (yet)
        return None
    if not isinstance(pool, asyncpg.Pool):
        return None
    size, idle = pool.get_size(), pool.get_idle_size()
    return size - idle, idle
