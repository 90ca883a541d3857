"""Schemathesis in GraphQL mode against /graphql of a real `runtime-api serve`: generated queries
and mutations, with a signed-in user's token, never get a 5xx, never an `INTERNAL` error (an
unexpected exception, masked) and never an error without a docs/contract.md §2 code; the server logs
no unhandled error. Bounded (`--max-time`) so the suite stays fast (seed 1; set `GRAPHQL_FUZZ_SEED`
to explore further); runs on the suite's backend (a fresh PostgreSQL database + Redis on the real
backend, SQLite otherwise).

Schemathesis's own `not_a_server_error` check counts every GraphQL error that is not a document
rejection as a server failure, `NOT_FOUND` and `UNAUTHENTICATED` included: for this API those are
answers (docs/contract.md §2). So it is off, and `graphql_contract_errors` (registered through
`SCHEMATHESIS_HOOKS` by a shim that calls `register_schemathesis_hooks`) checks instead. The
hooks also give schemathesis strategies for the schema's custom scalars (`DateTime`, `Date`,
`JSON`), which it cannot generate by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from resolvers.errors import ErrorCode
from tests.support.backend import detect
from tests.support.client import Api, gql_code
from tests.support.fuzz_server import fuzz_database, fuzz_server, sign_up
from tests.support.server_process import REPO_ROOT, ServerProcess

BACKEND = detect()
CHECK = "graphql_contract_errors"
MAX_TIME_S = 15
CODES = frozenset(code.value for code in ErrorCode)


# --- the schemathesis side: loaded into schemathesis's process, not pytest's ---


def _scalar_strategies() -> dict[str, Any]:
    """Hypothesis strategies of AST value nodes for the schema's custom scalars: mostly valid
    values (so resolvers run), some edge cases and some garbage (so validation runs)."""
    from hypothesis import strategies as st
    from schemathesis.graphql import nodes

    offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    # The whole of Python's range: values near its ends must be refused with BAD_USER_INPUT.
    aware = st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.just(UTC) | offsets,
    ).map(datetime.isoformat)
    edges = st.sampled_from(
        [
            "0001-01-02T00:00:00+14:00",
            "9999-12-30T23:59:59-14:00",
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59.999999+00:00",
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01",
            "",
        ]
    )
    date_time = st.one_of(aware, edges, st.text(max_size=40)).map(nodes.String)
    dates = st.one_of(
        st.dates().map(date.isoformat),
        st.sampled_from(["0001-01-01", "9999-12-31", "2024-02-30", "yesterday", ""]),
        st.text(max_size=20),
    ).map(nodes.String)

    leaves = st.one_of(
        st.just(nodes.Null),
        st.booleans().map(nodes.Boolean),
        st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.text(max_size=30).map(nodes.String),
    )
    keys = st.one_of(
        st.sampled_from(
            ["threadId", "runId", "messages", "tools", "context", "state", "forwardedProps"]
        ),
        st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,15}", fullmatch=True),
    )

    def extend(children: Any) -> Any:
        from graphql import NameNode, ObjectFieldNode

        def fields(items: dict[str, Any]) -> Any:
            return nodes.Object(
                [ObjectFieldNode(name=NameNode(value=k), value=v) for k, v in items.items()]
            )

        return st.one_of(
            st.lists(children, max_size=4).map(nodes.List),
            st.dictionaries(keys, children, max_size=6).map(fields),
        )

    json_values = st.recursive(leaves, extend, max_leaves=12)
    return {"DateTime": date_time, "Date": dates, "JSON": json_values}


def graphql_contract_errors(_ctx: Any, response: Any, _case: Any) -> None:
    """No 5xx; every GraphQL error carries a docs/contract.md §2 code, and none is INTERNAL."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        payload = json.loads(response.content)
    except ValueError:
        return  # a transport-level refusal (plain-text 400): not a GraphQL response
    entries = payload if isinstance(payload, list) else [payload]
    for entry in entries:
        errors = entry.get("errors") if isinstance(entry, dict) else None
        for error in errors or ():
            code = (error.get("extensions") or {}).get("code")
            if code not in CODES:
                raise AssertionError(f"GraphQL error without a docs/contract.md §2 code: {error}")
            if code == ErrorCode.INTERNAL.value:
                raise AssertionError(f"GraphQL INTERNAL error: {error}")


def register_schemathesis_hooks() -> None:
    import schemathesis

    for name, strategy in _scalar_strategies().items():
        schemathesis.graphql.scalar(name, strategy)
    schemathesis.check(graphql_contract_errors)


def _hooks_file(directory: Path) -> Path:
    shim = directory / "graphql_fuzz_hooks.py"
    shim.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from tests.test_graphql_fuzz import register_schemathesis_hooks\n"
        "register_schemathesis_hooks()\n"
    )
    return shim


# --- the pytest side ---


@pytest.fixture(scope="module")
def database_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with fuzz_database("gqlfuzz", tmp_path_factory.mktemp("migrate")) as env:
        yield env


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database_env: dict[str, str]
) -> Iterator[ServerProcess]:
    with fuzz_server("gqlfuzz", tmp_path_factory.mktemp("gqlfuzz"), database_env) as process:
        yield process


def _sign_up(server: ServerProcess) -> str:
    return sign_up(server, "gqlfuzz")


def test_graphql_fuzz_no_5xx_and_no_internal_error(server: ServerProcess, tmp_path: Path) -> None:
    schemathesis = shutil.which("schemathesis") or shutil.which("st")
    assert schemathesis, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    token = _sign_up(server)
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(_hooks_file(tmp_path)),
        "PYTHONPATH": str(REPO_ROOT),
    }
    result = subprocess.run(
        [
            schemathesis,
            "run",
            f"{server.base_url}/graphql",
            "--checks",
            CHECK,
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "20",
            "--seed",
            os.environ.get("GRAPHQL_FUZZ_SEED", "1"),
            # One worker: CPython 3.11.7 can crash schemathesis's own code generation when it runs
            # in threads ("AST constructor recursion depth mismatch", CPython gh-106905).
            "--workers",
            "1",
            # The whole run's budget: fuzzing and stateful testing repeat until it is spent.
            "--max-time",
            str(MAX_TIME_S),
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--no-color",
            "--warnings",
            "off",
            "--request-timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=MAX_TIME_S + 120,
        check=False,
        env=env,
    )
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    assert "unhandled error" not in server.log(), "the server logged an unexpected exception"
    summary = json.loads(report.read_text())
    print(  # shown with `pytest -rA`: what this run covered
        f"graphql fuzz: {summary['test_cases']['generated']} cases, "
        f"{summary['operations']['tested']}/{summary['operations']['total']} operations, "
        f"{summary['running_time']:.0f} s"
    )
    assert not summary["errors"], summary["errors"]  # e.g. a scalar it could not generate
    assert summary["operations"]["tested"] >= 30, summary["operations"]
    assert summary["test_cases"]["generated"] >= 200, summary["test_cases"]


# --- what the fuzzer found (fixed: resolvers/calendar_inputs.py refuses such datetimes) ---

OVERFLOWING = [
    pytest.param('{ scheduleItems(endAt: "0001-01-01T00:00:00+14:00") { id } }', id="list-range"),
    pytest.param(
        'mutation { createScheduleItem(input: {title: "t", startAt: "9999-12-31T23:59:59-14:00"})'
        " { id } }",
        id="create",
    ),
    # Recurring and all-day items: an all-day item ends a day after its date, and UNTIL is
    # read up to a day further; both overflowed in year 9999.
    pytest.param(
        'mutation { createScheduleItem(input: {title: "t", allDay: true, startDate: "9999-12-31"})'
        " { id } }",
        id="all-day-last-date",
    ),
    pytest.param(
        'mutation { createScheduleItem(input: {title: "t", startAt: "2026-03-02T10:00:00Z", '
        'recurrence: "FREQ=DAILY;UNTIL=99991231T235959Z"}) { id } }',
        id="until-last-year",
    ),
    pytest.param(
        'mutation { createScheduleItem(input: {title: "t", allDay: true, startDate: "2026-03-02",'
        ' recurrence: "FREQ=YEARLY;UNTIL=99991231"}) { id } }',
        id="all-day-until-last-date",
    ),
]


@pytest.mark.parametrize("document", OVERFLOWING)
async def test_datetime_at_the_ends_of_the_range_is_refused(api: Api, document: str) -> None:
    account = await api.quick_user()
    body = await api.gql(document, token=account.access_token)
    assert gql_code(body) in {"BAD_USER_INPUT", "BAD_REQUEST"}, body


SERIES_INPUT = {
    "title": "s",
    "startAt": "2026-03-02T10:00:00Z",
    "recurrence": "FREQ=WEEKLY;COUNT=3",
}
CREATE_SERIES = "mutation($i: CreateScheduleItemInput!) { createScheduleItem(input: $i) { id } }"


@pytest.mark.parametrize("occurrence", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
async def test_an_occurrence_at_the_ends_of_the_range_is_none(api: Api, occurrence: str) -> None:
    """Read in the item's zone, such an `occurrence` overflowed (INTERNAL): it names none."""
    account = await api.quick_user()
    created = await api.gql(CREATE_SERIES, {"i": SERIES_INPUT}, account.access_token)
    item = created["data"]["createScheduleItem"]["id"]
    variables = {"id": item, "o": occurrence}
    update = await api.gql(
        "mutation($id: ID!, $o: DateTime) { updateScheduleItem(id: $id, occurrence: $o, "
        'input: {title: "t"}) { id } }',
        variables,
        account.access_token,
    )
    delete = await api.gql(
        "mutation($id: ID!, $o: DateTime) { deleteScheduleItem(id: $id, occurrence: $o) }",
        variables,
        account.access_token,
    )
    assert (gql_code(update), gql_code(delete)) == ("NOT_FOUND", "NOT_FOUND"), (update, delete)


async def test_a_series_running_into_the_last_year_lists_up_to_it(api: Api) -> None:
    """Its occurrences in year 9999 (with its length or zone, past Python's last datetime)
    made every list of its owner INTERNAL; they are left out."""
    account = await api.quick_user()
    series = {
        "title": "late",
        "startAt": "9998-12-01T10:00:00Z",
        "endAt": "9998-12-03T09:00:00Z",
        "timezone": "America/Los_Angeles",
        "recurrence": "FREQ=DAILY",
    }
    created = await api.gql(CREATE_SERIES, {"i": series}, account.access_token)
    assert "errors" not in created, created
    listed = await api.gql("{ scheduleItems { occurrenceStartAt } }", None, account.access_token)
    assert "errors" not in listed, listed
    starts = [e["occurrenceStartAt"] for e in listed["data"]["scheduleItems"]]
    assert starts[0] == "9998-12-01T10:00:00+00:00" and all(s < "9999-12-31" for s in starts)
