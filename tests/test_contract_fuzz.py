"""Schemathesis against the app's own OpenAPI document: for every route, generated valid and
invalid requests never get a 5xx, and every response matches what the document says (status
code, content type, body schema). Bounded so the suite stays fast; runs on the suite's backend
(a fresh PostgreSQL database + Redis on the real backend, SQLite otherwise)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.backend import detect
from tests.support.server_process import ServerProcess, run_cli, running_server

BACKEND = detect()
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


@pytest.fixture(scope="module")
def database_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if BACKEND.database_url is None:
        yield {}
        return
    import asyncio

    name = f"rt_fuzz_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(BACKEND.database_url)
        await connection.execute(sql)
        await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = BACKEND.database_url.rsplit("/", 1)[0] + "/" + name
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": BACKEND.redis_url or "",
        "REDIS_PREFIX": f"rt-fuzz-{uuid.uuid4().hex[:8]}:",
    }
    migrated = run_cli("migrate", cwd=tmp_path_factory.mktemp("migrate"), env=env)
    assert migrated.returncode == 0, migrated.stderr
    yield env
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database_env: dict[str, str]
) -> Iterator[ServerProcess]:
    env = {
        "JWT_SECRET": "fuzz-secret-" + "x" * 32,
        # POST /agent streams its run: someone must execute it, with or without Redis.
        "AGENT_WORKER_IN_SERVER": "true",
        **database_env,
    }
    with running_server(tmp_path_factory.mktemp("fuzz"), env) as process:
        yield process


def _sign_up(server: ServerProcess) -> str:
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=server.base_url + "/api/v1") as client:
        mark = len(server.log())
        r = client.post(
            "/auth/verifications",
            json={"username": "fuzzer" + email[5:9], "email": email, "password": "fuzz-pass"},
        )
        assert r.status_code == 202, r.text
        code = server.wait_for_log(r"Use the code (\d{6})", after=mark).group(1)
        r = client.post("/auth/verify", json={"type": "signup", "email": email, "token": code})
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token


def test_no_5xx_and_every_response_matches_the_openapi_document(
    server: ServerProcess, tmp_path: Path
) -> None:
    schemathesis = shutil.which("schemathesis") or shutil.which("st")
    assert schemathesis, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    token = _sign_up(server)
    document = httpx.get(server.base_url + "/openapi.json").json()
    operations = sum(len(ops) for ops in document["paths"].values())
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            schemathesis,
            "run",
            f"{server.base_url}/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "10",
            "--seed",
            "1",
            # One worker: CPython 3.11.7 can crash schemathesis's own code generation when it runs
            # in threads ("AST constructor recursion depth mismatch", CPython gh-106905).
            "--workers",
            "1",
            # seconds per phase (coverage, fuzzing, stateful): about a minute in all
            "--max-time",
            "15",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--no-color",
            "--warnings",
            "off",
            # An SSE stream of an existing thread never ends by itself, so a fuzzer reading the
            # whole response would wait forever; its contract has tests of its own
            # (tests/test_agent_stream.py).
            "--exclude-path-regex",
            "/events$",
            "--request-timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    assert "unhandled error" not in server.log(), "the server logged an unexpected exception"
    assert operations >= 12, "the document lists fewer routes than the app serves?"
    if report.exists():
        summary = json.loads(report.read_text())
        assert summary, output
