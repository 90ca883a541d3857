"""What metrics cost: the REST and GraphQL list ratios to the floor with metrics on, against
the same with metrics off (the target: within 5 %).

Two fresh servers of the bench's deployment, started alike, differ in one setting: the second
has `METRICS_PORT`, so it runs as production would with metrics (prometheus-client's
multiprocess files, the HTTP middleware, the GraphQL extension). They are loaded in turn,
in short pairs (off/on, on/off, …) with the same wrk load as the rest and graphql scenarios.

The verdict compares the server's CPU time per request (from /proc, over each load), not its
throughput: the server process is CPU-bound under this load, so its throughput is the inverse
of that cost when it has the cores to itself, and the cost moves much less than the throughput
when a neighbour's burst takes the cores away. The figure is the median over the pairs of
off's cost / on's; median throughputs (and their ratios to the floor) are reported too. After
the load the metrics server is scraped, to show its counters did count the requests.
"""

from __future__ import annotations

import asyncio
import os
import statistics
from dataclasses import dataclass
from typing import Any

import httpx

from bench.child_process import free_port
from bench.context import Bench, Row, ServerFault
from bench.processes import REGISTRY, Server, start_server
from bench.scenarios.listing import GRAPHQL_BODY, LIST_PATH
from bench.wrk import run_wrk

TARGET = 0.95  # metrics off / metrics on, of the CPU time per request, for REST and GraphQL
ROUNDS = 6  # pairs of short loads: a neighbour's burst then hits both sides of a pair alike


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Load:
    rps: float
    cpu_ms: float  # CPU milliseconds per request


async def _measure(bench: Bench, server: Server, path: str, graphql: bool, seconds: int) -> Load:
    assert bench.viewer is not None
    url = server.base_url + path
    kwargs: dict[str, Any] = {"method": "POST", "body": GRAPHQL_BODY} if graphql else {}
    before = cpu_seconds(server.child.pid)
    result = await asyncio.to_thread(run_wrk, url, bench.viewer.token, seconds, **kwargs)
    spent = cpu_seconds(server.child.pid) - before
    if result.non_2xx or result.socket_errors or not result.requests:
        raise ServerFault(f"{url}: {result.to_json()}")
    return Load(result.requests_per_s, spent * 1000 / result.requests)


@dataclass
class Comparison:
    off: list[Load]
    on: list[Load]

    @property
    def kept(self) -> float:
        """Median over the pairs of off's CPU per request / on's: 1.0 when metrics cost nothing."""
        return statistics.median(
            a.cpu_ms / b.cpu_ms for a, b in zip(self.off, self.on, strict=True)
        )

    @staticmethod
    def median(side: list[Load], field: str) -> float:
        return statistics.median(float(getattr(load, field)) for load in side)


async def _compare(bench: Bench, off: Server, on: Server, path: str, graphql: bool) -> Comparison:
    p = bench.profile
    for server in (off, on):
        await _measure(bench, server, path, graphql, p.wrk_warmup_s)
    seconds = max(2, p.wrk_duration_s // 2)
    comparison = Comparison([], [])
    for round_ in range(ROUNDS):
        sides = [(off, comparison.off), (on, comparison.on)]
        for server, loads in sides if round_ % 2 == 0 else reversed(sides):
            loads.append(await _measure(bench, server, path, graphql, seconds))
    return comparison


def _counted(exposition: str, route: str) -> float:
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith("runtime_api_http_requests_total{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _describe(name: str, c: Comparison, floor_rps: float | None) -> str:
    cpu = (c.median(c.off, "cpu_ms"), c.median(c.on, "cpu_ms"))
    rps = (c.median(c.off, "rps"), c.median(c.on, "rps"))
    text = (
        f"{name} {c.kept:.1%} (CPU {cpu[0]:.2f} -> {cpu[1]:.2f} ms/req; "
        f"{rps[0]:,.0f} -> {rps[1]:,.0f} req/s"
    )
    if floor_rps:
        text += f" = {rps[0] / floor_rps:.2f}x -> {rps[1] / floor_rps:.2f}x floor"
    return text + ")"


async def metrics_overhead(bench: Bench) -> None:
    assert bench.viewer is not None
    metrics_port = free_port()
    off = start_server("server-metrics-off", bench.env(), bench.work_dir)
    try:
        on_env = bench.env(METRICS_PORT=str(metrics_port))
        on = start_server("server-metrics-on", on_env, bench.work_dir)
        try:
            rest = await _compare(bench, off, on, LIST_PATH, graphql=False)
            graphql = await _compare(bench, off, on, "/graphql", graphql=True)
            async with httpx.AsyncClient(timeout=10) as client:
                scraped = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        finally:
            REGISTRY.stop(on.child)
    finally:
        REGISTRY.stop(off.child)
    counted = {"rest": _counted(scraped, LIST_PATH), "graphql": _counted(scraped, "/graphql")}
    if not all(counted.values()):
        raise ServerFault(f"the metrics server counted no requests: {counted}")
    floor_rps = bench.extra.get("floor_rps")
    details: dict[str, Any] = {"floor_rps": floor_rps, "requests_counted": counted}
    for name, comparison in (("rest", rest), ("graphql", graphql)):
        details[name] = {
            "kept": round(comparison.kept, 3),
            "off": [vars(load) for load in comparison.off],
            "on": [vars(load) for load in comparison.on],
        }
    verdict = "PASS" if min(rest.kept, graphql.kept) >= TARGET else "FAIL"
    target = f">= {TARGET:.0%} of off"
    measured = f"{_describe('REST', rest, floor_rps)}; {_describe('GraphQL', graphql, floor_rps)}"
    bench.rows.append(Row("Metrics on vs off (of off)", measured, target, verdict, details))
