"""Tortoise ORM set-up: connection config, start-up, migrations.

The same migrations (models/migrations, written by `tortoise makemigrations`) run on PostgreSQL
and SQLite. The asyncpg pool is sized from the environment because Tortoise's default (5) starves
a server process under load.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.executor import MigrationExecutor

from config import Settings

log = logging.getLogger(__name__)

MODELS_MODULE = "models"
MIGRATIONS_MODULE = "models.migrations"
APP_LABEL = "models"


def _pooled_url(settings: Settings) -> str:
    """Add pool sizes and a connect timeout to a PostgreSQL URL unless the URL sets them."""
    url = settings.database_url
    if not settings.uses_postgres:
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("minsize", str(settings.database_pool_min))
    query.setdefault("maxsize", str(settings.database_pool_max))
    query.setdefault("timeout", str(int(settings.database_timeout_s)))
    scheme = "asyncpg" if parts.scheme in {"postgres", "postgresql"} else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": _pooled_url(settings)},
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


def _ensure_sqlite_directory(settings: Settings) -> None:
    if settings.uses_postgres:
        return
    path = settings.database_url.split("://", 1)[1].split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


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
