"""The schedule-item list: the floor, REST, GraphQL, and growth of the table under it."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from bench import recurring, seed
from bench.context import Bench, Row, ServerFault
from bench.wrk import CONNECTIONS, THREADS, WrkResult, run_wrk

LIST_PATH = "/api/v1/schedule-items"
GRAPHQL_QUERY = (
    "query { scheduleItems { id title description startAt endAt timezone status metadata "
    "createdAt updatedAt owner { username } } }"
)
GRAPHQL_BODY = json.dumps({"query": GRAPHQL_QUERY})
REST_RATIO_TARGET = 0.5
GRAPHQL_RATIO_TARGET = 0.2
GROWTH_TARGET = 1.3


async def _check(url: str, token: str, expected: int, *, graphql: bool = False) -> list[Any]:
    """One request before the load: 200 and exactly the expected items (list entries)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        if graphql:
            response = await client.post(
                url, content=GRAPHQL_BODY, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            response = await client.get(url, headers=headers)
    if response.status_code != 200:
        raise ServerFault(f"{url}: {response.status_code} {response.text[:500]}")
    body: Any = response.json()
    if graphql:
        if body.get("errors"):
            raise ServerFault(f"{url}: errors {body['errors']}")
        body = body["data"]["scheduleItems"]
    if len(body) != expected:
        raise ServerFault(f"{url}: {len(body)} items, expected {expected}")
    entries: list[Any] = body
    return entries


async def _load(bench: Bench, url: str, *, graphql: bool = False) -> WrkResult:
    assert bench.viewer is not None
    p = bench.profile
    kwargs: dict[str, Any] = {"method": "POST", "body": GRAPHQL_BODY} if graphql else {}
    await asyncio.to_thread(run_wrk, url, bench.viewer.token, p.wrk_warmup_s, **kwargs)
    return await asyncio.to_thread(run_wrk, url, bench.viewer.token, p.wrk_duration_s, **kwargs)


def _expected(bench: Bench) -> int:
    return bench.profile.own_items + bench.profile.shared_items


def _load_text(result: WrkResult) -> str:
    text = f"{result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms"
    if result.non_2xx or result.socket_errors:
        text += f" ({result.non_2xx} non-2xx, {result.socket_errors} socket errors)"
    return text


def _clean(result: WrkResult) -> bool:
    return result.non_2xx == 0 and result.socket_errors == 0


async def floor(bench: Bench) -> None:
    assert bench.viewer is not None
    server = bench.start_floor()
    try:
        url = server.base_url + LIST_PATH
        await _check(url, bench.viewer.token, _expected(bench))
        result = await _load(bench, url)
    finally:
        bench.stop_floor()
    bench.extra["floor_rps"] = result.requests_per_s
    bench.rows.append(
        Row(
            "floor: Starlette + asyncpg, 1 SQL",
            _load_text(result),
            f"wrk -t{THREADS} -c{CONNECTIONS}",
            "INFO" if _clean(result) else "FAIL",
            {"wrk": result.to_json()},
        )
    )


async def _ratio_row(bench: Bench, name: str, result: WrkResult, target: float) -> None:
    floor_rps = bench.extra.get("floor_rps")
    details: dict[str, Any] = {"wrk": result.to_json(), "floor_rps": floor_rps}
    if not floor_rps:
        bench.rows.append(Row(name, _load_text(result), f">= {target}x floor", "INFO", details))
        return
    ratio = result.requests_per_s / floor_rps
    details["ratio"] = round(ratio, 3)
    verdict = "PASS" if ratio >= target and _clean(result) else "FAIL"
    measured = f"{_load_text(result)} = {ratio:.2f}x floor"
    bench.rows.append(Row(name, measured, f">= {target}x floor", verdict, details))


async def rest(bench: Bench) -> None:
    assert bench.server is not None and bench.viewer is not None
    url = bench.server.base_url + LIST_PATH
    await _check(url, bench.viewer.token, _expected(bench))
    result = await _load(bench, url)
    await _ratio_row(bench, "REST GET /schedule-items (50)", result, REST_RATIO_TARGET)


async def graphql(bench: Bench) -> None:
    assert bench.server is not None and bench.viewer is not None
    url = bench.server.base_url + "/graphql"
    await _check(url, bench.viewer.token, _expected(bench), graphql=True)
    result = await _load(bench, url, graphql=True)
    await _ratio_row(bench, "GraphQL scheduleItems (50)", result, GRAPHQL_RATIO_TARGET)


async def _check_series(url: str, token: str, expected: int) -> None:
    """The list with the viewer's series: still `expected` entries, VIEWER_SERIES_ENTRIES of
    them occurrences (each with its occurrence fields)."""
    entries = await _check(url, token, expected)
    occurrences = [e for e in entries if e["recurrence"] is not None]
    if len(occurrences) != recurring.VIEWER_SERIES_ENTRIES or not all(
        e["occurrence_start_at"] and e["original_start_at"] for e in occurrences
    ):
        raise ServerFault(
            f"{url}: {len(occurrences)} occurrences, expected {recurring.VIEWER_SERIES_ENTRIES}"
        )


async def _measured_with_plan(bench: Bench, url: str) -> tuple[WrkResult, str]:
    """The load, and EXPLAIN ANALYZE of the statements the server ran during it (sampled from
    pg_stat_activity on both sides of the growth, so that both loads share the sampling)."""
    assert bench.viewer is not None
    stop = asyncio.Event()
    capture = asyncio.create_task(seed.capture_queries(bench.db_name or "", stop))
    try:
        result = await _load(bench, url)
    finally:
        stop.set()
    captured = await capture
    plan = await seed.explain_captured(bench.db_url, bench.viewer.user_id, captured)
    if not plan:  # nothing seen in flight: the ORM query the resolver used to run
        plan = await seed.explain(bench.db_url, bench.viewer.user_id)
    return result, plan


def _execution_ms(plan: str) -> float:
    """PostgreSQL's own time for the explained statements: what the growth costs the database,
    apart from the CPU noise of a load sharing two cores."""
    return sum(float(m) for m in re.findall(r"^Execution Time: ([\d.]+) ms$", plan, re.M))


async def growth(bench: Bench) -> None:
    """The list before and after the table grows, with series in the viewer's list (expanded
    on every request) and among the other users' items (which the list must not read)."""
    assert bench.server is not None and bench.viewer is not None
    p = bench.profile
    url = bench.server.base_url + LIST_PATH
    await recurring.add_viewer_series(bench.db_url, bench.viewer.user_id)
    await _check_series(url, bench.viewer.token, _expected(bench))
    small, small_plan = await _measured_with_plan(bench, url)
    await seed.grow(bench.db_url, bench.others, p.other_items_large, p.other_recurring_items)
    await _check_series(url, bench.viewer.token, _expected(bench))
    large, plan = await _measured_with_plan(bench, url)
    ratio = large.p50_ms / small.p50_ms if small.p50_ms else float("inf")
    verdict = "PASS" if ratio <= GROWTH_TARGET and _clean(small) and _clean(large) else "FAIL"
    sql_small, sql_large = _execution_ms(small_plan), _execution_ms(plan)
    measured = (
        f"p50 {small.p50_ms:.1f} ms ({p.other_items_small:,} others) -> "
        f"{large.p50_ms:.1f} ms ({p.other_items_large:,}, {p.other_recurring_items:,} "
        f"recurring) = {ratio:.2f}x; SQL {sql_small:.2f} -> {sql_large:.2f} ms"
    )
    bench.extra["explain"] = plan
    bench.rows.append(
        Row(
            "Growth: REST list (50, 12 occurrences), other users' items",
            measured,
            f"p50 ratio <= {GROWTH_TARGET}",
            verdict,
            {
                "small": small.to_json(),
                "large": large.to_json(),
                "ratio": round(ratio, 3),
                "sql_execution_ms": {"small": sql_small, "large": sql_large},
                "explain_small": small_plan,
                "explain": plan,
            },
        )
    )
