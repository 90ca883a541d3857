"""The schedule-item list: the floor, REST, GraphQL, and growth of the table under it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from bench import seed
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


async def _check(url: str, token: str, expected: int, *, graphql: bool = False) -> None:
    """One request before the load: 200 and exactly the expected items."""
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


async def growth(bench: Bench) -> None:
    assert bench.server is not None and bench.viewer is not None
    p = bench.profile
    url = bench.server.base_url + LIST_PATH
    await _check(url, bench.viewer.token, _expected(bench))
    small = await _load(bench, url)
    await seed.grow(bench.db_url, bench.others, p.other_items_large)
    await _check(url, bench.viewer.token, _expected(bench))
    stop = asyncio.Event()
    capture = asyncio.create_task(seed.capture_queries(bench.db_name or "", stop))
    try:
        large = await _load(bench, url)
    finally:
        stop.set()
    captured = await capture
    plan = await seed.explain_captured(bench.db_url, bench.viewer.user_id, captured)
    if not plan:  # nothing seen in flight: the ORM query the resolver used to run
        plan = await seed.explain(bench.db_url, bench.viewer.user_id)
    ratio = large.p50_ms / small.p50_ms if small.p50_ms else float("inf")
    verdict = "PASS" if ratio <= GROWTH_TARGET and _clean(small) and _clean(large) else "FAIL"
    measured = (
        f"p50 {small.p50_ms:.1f} ms ({p.other_items_small:,} others) -> "
        f"{large.p50_ms:.1f} ms ({p.other_items_large:,}) = {ratio:.2f}x"
    )
    bench.extra["explain"] = plan
    bench.rows.append(
        Row(
            "Growth: REST list, other users' items",
            measured,
            f"p50 ratio <= {GROWTH_TARGET}",
            verdict,
            {
                "small": small.to_json(),
                "large": large.to_json(),
                "ratio": round(ratio, 3),
                "explain": plan,
            },
        )
    )
