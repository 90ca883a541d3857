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
from tests.support.client import Api
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


# --- found by probing the recurrence and all-day inputs at the ends of Python's datetime range
# (an all-day item ends a day after its date, UNTIL is read up to a day further, an occurrence
# is read in the item's zone): each was a 500 ---

SERIES = {"title": "s", "start_at": "2026-03-02T10:00:00Z", "recurrence": "FREQ=WEEKLY;COUNT=3"}
REFUSED_BODIES = {
    "all-day, last date": {"title": "t", "all_day": True, "start_at": "9999-12-31"},
    "all-day, ends on the last date": {
        "title": "t",
        "all_day": True,
        "start_at": "9998-12-30",
        "end_at": "9999-12-31",
    },
    "UNTIL in the last year": {**SERIES, "recurrence": "FREQ=DAILY;UNTIL=99991231T235959Z"},
    "all-day UNTIL, last date": {
        "title": "t",
        "all_day": True,
        "start_at": "2026-03-02",
        "recurrence": "FREQ=YEARLY;UNTIL=99991231",
    },
}


@pytest.mark.parametrize("name", list(REFUSED_BODIES))
async def test_an_item_at_the_ends_of_the_range_is_422(api: Api, name: str) -> None:
    account = await api.quick_user()
    response = await api.rest(
        "POST", "/schedule-items", account.access_token, json=REFUSED_BODIES[name]
    )
    assert response.status_code == 422, response.text


async def test_a_list_ending_on_the_last_date_is_422(api: Api) -> None:
    account = await api.quick_user()
    params = {"end_at": "9999-12-31"}
    response = await api.rest("GET", "/schedule-items", account.access_token, params=params)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "occurrence", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31"]
)
async def test_an_occurrence_at_the_ends_of_the_range_is_404(api: Api, occurrence: str) -> None:
    account = await api.quick_user()
    created = await api.rest("POST", "/schedule-items", account.access_token, json=SERIES)
    path = f"/schedule-items/{created.json()['id']}"
    params = {"occurrence": occurrence}
    patch = await api.rest("PATCH", path, account.access_token, params=params, json={"title": "t"})
    delete = await api.rest("DELETE", path, account.access_token, params=params)
    assert (patch.status_code, delete.status_code) == (404, 404), (patch.text, delete.text)


async def test_a_series_running_into_the_last_year_lists_up_to_it(api: Api) -> None:
    account = await api.quick_user()
    body = {
        "title": "late",
        "start_at": "9998-12-01T10:00:00Z",
        "end_at": "9998-12-03T09:00:00Z",
        "timezone": "America/Los_Angeles",
        "recurrence": "FREQ=DAILY",
    }
    created = await api.rest("POST", "/schedule-items", account.access_token, json=body)
    assert created.status_code == 201, created.text
    listed = await api.rest("GET", "/schedule-items", account.access_token)
    assert listed.status_code == 200, listed.text
    starts = [e["occurrence_start_at"] for e in listed.json()]
    assert starts[0] == "9998-12-01T10:00:00Z" and all(s < "9999-12-31" for s in starts)
