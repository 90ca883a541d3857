"""Schemathesis against the app's own OpenAPI document: for every route, generated valid and
invalid requests never get a 5xx, and every response matches what the document says (status
code, content type, body schema). Bounded so the suite stays fast; runs on the suite's backend
(a fresh PostgreSQL database + Redis on the real backend, SQLite otherwise)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.backend import detect
from tests.support.fuzz_server import fuzz_database, fuzz_server, sign_up
from tests.support.server_process import ServerProcess

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
    with fuzz_database("fuzz", tmp_path_factory.mktemp("migrate")) as env:
        yield env


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database_env: dict[str, str]
) -> Iterator[ServerProcess]:
    with fuzz_server("fuzz", tmp_path_factory.mktemp("fuzz"), database_env) as process:
        yield process


def _sign_up(server: ServerProcess) -> str:
    return sign_up(server, "fuzz")


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
