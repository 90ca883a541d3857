"""Fan-out: N subscribers (SSE, or graphql-transport-ws `agentEvents`) on one thread, then runs
totalling about 500 events: on one server process (`sse`, `ws`, and `mixed`: half of each), or
on `serve --workers 2` (`sse-workers`: 5,000 SSE subscribers).

Checks: every subscriber received every event of the stream after its cursor, in order (their
ids compared with the stream's XRANGE); p99 delay from XADD (the stream id's milliseconds, set by
Redis' clock) to receipt; server RSS per idle subscriber; the server's Redis connections (from
/proc) before and after the subscribers, and its named stream readers in CLIENT LIST.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from bench import seed
from bench.clients.common import histogram_summary
from bench.clients.driver import ClientProcess
from bench.context import Bench, Row
from bench.processes import REGISTRY, Server, rss_kib, start_server, tcp_connections_to
from bench.scenarios.agent_common import run_to_end, start_runs

WS_P99_TARGET_MS = 250.0
SSE_P99_TARGET_MS = 150.0
WORKERS_P99_TARGET_MS = 500.0
MEMORY_TARGET_KIB = 64.0
REDIS_PORT = 6379
SETTLE_S = 2.0


async def _reader_names(prefix: str) -> int:
    redis = Redis.from_url(seed.REDIS_URL)
    try:
        clients = await redis.client_list()
    finally:
        await redis.aclose()
    name = prefix + "agent-stream-reader"
    return sum(1 for c in clients if c.get("name") == name)


async def _stream_ids(prefix: str, thread: str, after: str) -> list[str]:
    redis = Redis.from_url(seed.REDIS_URL)
    try:
        key = f"{prefix}agent:stream:{thread}"
        ids: list[str] = []
        start = "(" + after
        while True:
            page = await redis.xrange(key, start, "+", count=1000)
            if not page:
                return ids
            ids.extend(_text(entry[0]) for entry in page)
            start = "(" + ids[-1]
    finally:
        await redis.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _server_usage(pid: int) -> dict[str, int]:
    return {"rss_kib": rss_kib(pid), "redis_connections": tcp_connections_to(pid, REDIS_PORT)}


LABELS = {"sse": "SSE", "ws": "GraphQL ws"}
MODULES = {"sse": "bench.clients.sse", "ws": "bench.clients.gqlws"}
TARGETS_MS = {"sse": SSE_P99_TARGET_MS, "ws": WS_P99_TARGET_MS}
WARM_SUBSCRIBERS = 10
PER_CLIENT_PROCESS = 2_500  # subscribers one client process holds before another is started


@dataclass(frozen=True)
class Group:
    """Subscribers of one protocol, spread over client processes of up to 2,500 each."""

    transport: str  # "sse" or "ws"
    subscribers: int

    def shares(self) -> list[int]:
        processes = max(1, math.ceil(self.subscribers / PER_CLIENT_PROCESS))
        base, extra = divmod(self.subscribers, processes)
        return [base + (1 if i < extra else 0) for i in range(processes)]


@dataclass
class Outcome:
    """What a group's client processes reported, added up."""

    group: Group
    connected: int = 0
    exact: int = 0  # subscribers whose ids equal the stream's XRANGE after the cursor
    out_of_order: int = 0
    histogram: dict[str, int] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        n = self.group.subscribers
        return self.exact == n and self.connected == n and self.out_of_order == 0

    def delay(self) -> dict[str, float]:
        return histogram_summary(self.histogram)


@dataclass
class Measured:
    outcomes: list[Outcome]
    runs: int
    per_run: int
    events: int
    details: dict[str, Any]


async def _warm(bench: Bench, module: str, common: list[str]) -> None:
    """A few subscribers that connect and leave: the first connection of a protocol in a
    process builds what every later one shares (imports, caches), which is not the cost of a
    subscriber; the RSS baseline is read after it."""
    client = ClientProcess(module, [*common, "--n", str(WARM_SUBSCRIBERS)], bench.work_dir)
    try:
        await client.read(limit_s=60)
        client.send("go 0")
        await client.read(limit_s=60)
    finally:
        client.stop()
    await asyncio.sleep(SETTLE_S / 2)


async def _measure(
    bench: Bench, server: Server, groups: list[Group], events: int, *, observe: bool
) -> Measured:
    """Subscribers of `groups` on one new thread of `server`, then runs making `events`
    events; `observe`: the server is one process whose RSS and Redis connections are read."""
    assert bench.viewer is not None
    bench.ensure_workers(2)
    token = bench.viewer.token
    thread = str(uuid.uuid4())
    warmup = await run_to_end(server.base_url, token, thread)
    per_run = len(warmup)
    cursor = warmup[-1][0]
    runs = math.ceil(events / per_run)
    pid = server.child.pid
    details: dict[str, Any] = {"runs": runs, "events_per_run": per_run}
    common = ["--port", str(server.port), "--token", token, "--thread", thread]
    common += ["--after", cursor, "--runs", str(runs)]
    if observe:
        for group in groups:
            await _warm(bench, MODULES[group.transport], common)
        details["server_before"] = _server_usage(pid)
    clients: list[tuple[int, ClientProcess]] = []
    outcomes = [Outcome(group) for group in groups]
    try:
        for index, group in enumerate(groups):
            for share in group.shares():
                args = [*common, "--n", str(share)]
                clients.append(
                    (index, ClientProcess(MODULES[group.transport], args, bench.work_dir))
                )
        readies = [(index, await client.read(limit_s=240)) for index, client in clients]
        await asyncio.sleep(SETTLE_S)
        if observe:
            details["server_idle"] = _server_usage(pid)
            details["stream_readers_idle"] = await _reader_names(bench.redis_prefix)
        statuses = await start_runs(server.base_url, token, thread, runs, "fan")
        details["run_post_statuses"] = sorted(set(statuses))
        timeout = 60.0 + runs * 2.0 + sum(g.subscribers for g in groups) / 100
        for _, client in clients:
            client.send(f"go {timeout}")
        dones = [(index, await client.read(limit_s=timeout + 60)) for index, client in clients]
    finally:
        for _, client in clients:
            client.stop()
    if observe:
        details["server_after"] = _server_usage(pid)
    truth = await _stream_ids(bench.redis_prefix, thread, cursor)
    _tally(outcomes, readies, dones, hashlib.sha256("\n".join(truth).encode()).hexdigest())
    details["events"] = len(truth)
    details["ready"] = [ready for _, ready in readies]
    details.update(_event_rate(truth))
    return Measured(outcomes, runs, per_run, len(truth), details)


def _tally(
    outcomes: list[Outcome],
    readies: list[tuple[int, dict[str, Any]]],
    dones: list[tuple[int, dict[str, Any]]],
    truth_digest: str,
) -> None:
    """Add each client's ready and done reports to the outcome of its group (by index)."""
    for index, ready in readies:
        outcomes[index].connected += ready["connected"]
    for index, done in dones:
        outcome = outcomes[index]
        outcome.exact += done["digests"].get(truth_digest, 0)
        outcome.out_of_order += done["out_of_order"]
        for ms, count in done["delay_histogram_ms"].items():
            outcome.histogram[ms] = outcome.histogram.get(ms, 0) + count
        outcome.reports.append(
            {k: v for k, v in done.items() if k not in ("digests", "delay_histogram_ms")}
        )


def _event_rate(truth: list[str]) -> dict[str, Any]:
    """How fast the stream's events were written, from their ids' millisecond parts."""
    if len(truth) < 2:
        return {}
    span_ms = int(truth[-1].split("-")[0]) - int(truth[0].split("-")[0])
    return {"event_span_ms": span_ms, "events_per_s": round(len(truth) / max(span_ms, 1) * 1000, 1)}


def _delivery_row(name: str, outcome: Outcome, m: Measured) -> Row:
    n = outcome.group.subscribers
    return Row(
        f"{name}: delivery",
        f"{outcome.exact}/{n} got all {m.events} events in order ({m.runs} runs)",
        "all, in order",
        "PASS" if outcome.delivered else "FAIL",
        {**m.details, "reports": outcome.reports, "connected": outcome.connected},
    )


def _delay_row(name: str, outcome: Outcome, m: Measured, target_ms: float) -> Row:
    delay = outcome.delay()
    rate = m.details.get("events_per_s")
    return Row(
        f"{name}: XADD->receipt",
        f"p50 {delay['p50']:.0f} ms, p99 {delay['p99']:.0f} ms, max {delay['max']:.0f} ms"
        + (f" ({rate:.0f} events/s)" if rate else ""),
        f"p99 < {target_ms:.0f} ms",
        "PASS" if outcome.delivered and delay["p99"] < target_ms else "FAIL",
        {"delay_ms": delay},
    )


async def fanout(bench: Bench, transport: str) -> None:
    """One protocol, one server process of its own (so that its RSS is not the high-water
    mark left by an earlier scenario's connections): delivery, delay, memory per idle
    subscriber, Redis connections."""
    p = bench.profile
    n = p.subscribers
    server = await asyncio.to_thread(
        start_server, f"server-{transport}", bench.env(), bench.work_dir
    )
    try:
        m = await _measure(bench, server, [Group(transport, n)], p.fanout_events, observe=True)
    finally:
        await asyncio.to_thread(REGISTRY.stop, server.child)
    outcome = m.outcomes[0]
    name = f"{LABELS[transport]} fan-out x{n}"
    bench.rows.append(_delivery_row(name, outcome, m))
    bench.rows.append(_delay_row(name, outcome, m, TARGETS_MS[transport]))
    before, idle, after = (
        m.details["server_before"],
        m.details["server_idle"],
        m.details["server_after"],
    )
    per_sub = (idle["rss_kib"] - before["rss_kib"]) / n
    bench.rows.append(
        Row(
            f"{name}: memory",
            f"{per_sub:.1f} KiB/subscriber (RSS {before['rss_kib'] / 1024:.0f} -> "
            f"{idle['rss_kib'] / 1024:.0f} MiB)",
            f"< {MEMORY_TARGET_KIB:.0f} KiB",
            "PASS" if per_sub < MEMORY_TARGET_KIB else "FAIL",
            {"kib_per_subscriber": round(per_sub, 2)},
        )
    )
    readers_idle = m.details["stream_readers_idle"]
    grown = idle["redis_connections"] - before["redis_connections"]
    # One blocking reader for the thread, plus at most a bounded pool (not one per subscriber).
    bench.rows.append(
        Row(
            f"{name}: Redis connections",
            f"{before['redis_connections']} -> {idle['redis_connections']} idle -> "
            f"{after['redis_connections']} after run; {readers_idle} stream reader(s)",
            "no growth with subscribers",
            "PASS" if grown <= 20 and readers_idle <= 1 else "FAIL",
            {"growth": grown},
        )
    )


async def sse(bench: Bench) -> None:
    await fanout(bench, "sse")


async def ws(bench: Bench) -> None:
    await fanout(bench, "ws")


async def mixed(bench: Bench) -> None:
    """Half SSE, half websocket subscribers of one thread, one server process."""
    assert bench.server is not None
    p = bench.profile
    half = p.mixed_subscribers // 2
    groups = [Group("sse", half), Group("ws", p.mixed_subscribers - half)]
    m = await _measure(bench, bench.server, groups, p.fanout_events, observe=False)
    name = f"Mixed {groups[0].subscribers} SSE + {groups[1].subscribers} ws"
    both = all(o.delivered for o in m.outcomes)
    exact = " + ".join(f"{o.exact}/{o.group.subscribers}" for o in m.outcomes)
    bench.rows.append(
        Row(
            f"{name}: delivery",
            f"{exact} got all {m.events} events in order ({m.runs} runs)",
            "all, in order",
            "PASS" if both else "FAIL",
            {**m.details, "reports": [o.reports for o in m.outcomes]},
        )
    )
    for outcome in m.outcomes:
        transport = outcome.group.transport
        label = f"{name}: {LABELS[transport]}"
        bench.rows.append(_delay_row(label, outcome, m, TARGETS_MS[transport]))


async def sse_workers(bench: Bench) -> None:
    """Many SSE subscribers of one thread on `serve --workers 2` (each worker process has its
    own stream reader and its own share of the connections)."""
    p = bench.profile
    n = p.workers_subscribers
    server = await asyncio.to_thread(start_server, "server-workers", bench.env(), bench.work_dir, 2)
    try:
        m = await _measure(bench, server, [Group("sse", n)], p.workers_events, observe=False)
    finally:
        await asyncio.to_thread(REGISTRY.stop, server.child)
    outcome = m.outcomes[0]
    name = f"SSE fan-out x{n}, serve --workers 2"
    bench.rows.append(_delivery_row(name, outcome, m))
    bench.rows.append(_delay_row(name, outcome, m, WORKERS_P99_TARGET_MS))
