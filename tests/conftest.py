"""Fixtures: one database per test session (migrated with the real migrations), emptied
between tests; a fresh app per test with its own Redis key prefix, so rate limits never leak
across tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.contrib.test import truncate_all_models

from config import Settings
from infra.database import apply_migrations, close_database, init_database
from server.app import create_app
from tests.support.backend import Backend, detect
from tests.support.client import Account, Api
from tests.support.fake_openai import FakeOpenAI
from tests.support.health_calls import count_health_calls
from tests.support.mail import MailSink
from tests.support.transports import TRANSPORTS, Transport

BACKEND: Backend = detect()
RUN_ID = uuid.uuid4().hex[:10]


def pytest_report_header() -> str:
    if BACKEND.real:
        return f"runtime-api backend: postgres+redis ({BACKEND.database_url}, {BACKEND.redis_url})"
    return "runtime-api backend: embedded (SQLite, in-process streams)"


@pytest.fixture(scope="session")
def backend() -> Backend:
    return BACKEND


def _database_url(tmp_root: Path) -> str:
    if BACKEND.database_url is None:
        return f"sqlite://{tmp_root / 'test.db'}"
    base = BACKEND.database_url.rsplit("/", 1)[0]
    return f"{base}/rt_test_{RUN_ID}"


def base_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": BACKEND.redis_url,
        "redis_prefix": f"rt-test-{RUN_ID}-{uuid.uuid4().hex[:8]}:",
        "jwt_secret": SecretStr("test-secret-of-at-least-32-bytes-" + RUN_ID),
        "env": "test",
        # Cheap hashes keep the suite fast; production parameters are the settings' defaults.
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
        # Bursts of fifty concurrent requests on one row queue for pooled connections, and on a
        # loaded two-core machine that queue can outlast the production bound of 1.5 s; the
        # fault tests, which test that bound, set their own.
        "database_acquire_timeout_s": 15.0,
        # Each test's app executes agent runs itself, through the real queue when Redis is up;
        # tests about separate worker processes turn this off.
        "agent_worker_in_server": True,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = _database_url(tmp_path_factory.mktemp("db"))
    name = url.rsplit("/", 1)[1]
    if BACKEND.database_url is not None:
        admin = await asyncpg.connect(BACKEND.database_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
    settings = base_settings(url)
    await init_database(settings)
    await apply_migrations(settings)
    yield url
    await close_database()
    if BACKEND.database_url is not None:
        admin = await asyncpg.connect(BACKEND.database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    if BACKEND.redis_url is not None:
        from redis.asyncio import Redis

        redis = Redis.from_url(BACKEND.redis_url)
        async for key in redis.scan_iter(match=f"rt-test-{RUN_ID}-*"):
            await redis.delete(key)
        await redis.aclose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    await _empty_tables()
    yield database_url


async def _empty_tables() -> None:
    """Empty every table before a test. On PostgreSQL, DELETE with foreign-key triggers off is
    two orders of magnitude faster than TRUNCATE on tables this small."""
    if BACKEND.database_url is None:
        await truncate_all_models()
        return
    tables = [model._meta.db_table for model in Tortoise.apps["models"].values()]
    script = "SET session_replication_role = replica;"
    script += "".join(f'DELETE FROM "{table}";' for table in tables)
    script += "SET session_replication_role = origin;"
    await get_connection("default").execute_script(script)


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible endpoint on loopback (`fake_model_settings` points the agent
    at it)."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Override in a test module (or with indirect parametrization) to change settings."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def settings(db: str, settings_overrides: dict[str, Any]) -> Settings:
    return base_settings(db, **settings_overrides)


@pytest.fixture
def mail() -> MailSink:
    return MailSink()


@pytest.fixture(params=TRANSPORTS)
def t(request: pytest.FixtureRequest, api: Api) -> Transport:
    """The test once over REST and once over GraphQL (tests.support.transports)."""
    return Transport(api, request.param)


@pytest.fixture
def health_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts runs of the `health` resolver, to show that a rejected document never ran."""
    return count_health_calls(monkeypatch)


@pytest.fixture
def chat_model() -> Any:
    """The model the app's in-process agent worker uses; None means AGENT_MODEL (offline).
    Override in a module (e.g. with tests.support.agent.ScriptedModel) to script the agent."""
    return None


@pytest.fixture
async def app(settings: Settings, mail: MailSink, chat_model: Any) -> AsyncIterator[Any]:
    application = create_app(settings, mailer=mail, manage_database=False, chat_model=chat_model)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient, mail: MailSink, app: Any) -> Api:
    return Api(client, mail, app.state.services)


# Three confirmed users with live sessions, for tests about what they do to each other.
@pytest.fixture
async def alice(api: Api) -> Account:
    return await api.quick_user("alice")


@pytest.fixture
async def bob(api: Api) -> Account:
    return await api.quick_user("bob")


@pytest.fixture
async def carol(api: Api) -> Account:
    return await api.quick_user("carol")


os.environ.setdefault("RUNTIME_API_TESTING", "1")
