"""Fan-out: N subscribers (SSE, or graphql-transport-ws `agentEvents`) on one thread of one
server process, then runs totalling about 500 events.

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
from typing import Any

from redis.asyncio import Redis

from bench import seed
from bench.clients.driver import ClientProcess
from bench.context import Bench, Row
from bench.processes import rss_kib, tcp_connections_to
from bench.scenarios.agent_common import run_to_end, start_runs

DELAY_P99_TARGET_MS = 250.0
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


async def fanout(bench: Bench, transport: str) -> None:
    assert bench.server is not None and bench.viewer is not None
    p = bench.profile
    bench.ensure_workers(2)
    server, token, n = bench.server, bench.viewer.token, p.subscribers
    thread = str(uuid.uuid4())
    warmup = await run_to_end(server.base_url, token, thread)
    per_run = len(warmup)
    cursor = warmup[-1][0]
    runs = math.ceil(p.fanout_events / per_run)
    pid = server.child.pid
    label = "SSE" if transport == "sse" else "GraphQL ws"
    before = _server_usage(pid)
    module = "bench.clients.sse" if transport == "sse" else "bench.clients.gqlws"
    args = [
        "--port",
        str(server.port),
        "--token",
        token,
        "--thread",
        thread,
        "--after",
        cursor,
        "--n",
        str(n),
        "--runs",
        str(runs),
    ]
    client = ClientProcess(module, args, bench.work_dir)
    try:
        ready = await client.read(limit_s=180)
        await asyncio.sleep(SETTLE_S)
        idle = _server_usage(pid)
        readers_idle = await _reader_names(bench.redis_prefix)
        statuses = await start_runs(server.base_url, token, thread, runs, f"{transport}-fan")
        timeout = 60.0 + runs * 2.0
        client.send(f"go {timeout}")
        done = await client.read(limit_s=timeout + 60)
    finally:
        client.stop()
    after = _server_usage(pid)
    truth = await _stream_ids(bench.redis_prefix, thread, cursor)
    truth_digest = hashlib.sha256("\n".join(truth).encode()).hexdigest()
    exact = done["digests"].get(truth_digest, 0)

    details: dict[str, Any] = {
        "subscribers": n,
        "runs": runs,
        "events_per_run": per_run,
        "events": len(truth),
        "ready": ready,
        "done": {k: v for k, v in done.items() if k != "digests"},
        "subscribers_with_every_event_in_order": exact,
        "server_before": before,
        "server_idle": idle,
        "server_after": after,
        "stream_readers_idle": readers_idle,
        "run_post_statuses": sorted(set(statuses)),
    }
    if len(truth) >= 2:
        span_ms = int(truth[-1].split("-")[0]) - int(truth[0].split("-")[0])
        details["event_span_ms"] = span_ms
        details["events_per_s"] = round(len(truth) / max(span_ms, 1) * 1000, 1)
    name = f"{label} fan-out x{n}"
    delivered = exact == n and ready["connected"] == n and done["out_of_order"] == 0
    bench.rows.append(
        Row(
            f"{name}: delivery",
            f"{exact}/{n} got all {len(truth)} events in order ({runs} runs)",
            "all, in order",
            "PASS" if delivered else "FAIL",
            details,
        )
    )
    delay = done["delay_ms"]
    rate = details.get("events_per_s")
    bench.rows.append(
        Row(
            f"{name}: XADD->receipt",
            f"p50 {delay['p50']:.0f} ms, p99 {delay['p99']:.0f} ms, max {delay['max']:.0f} ms"
            + (f" ({rate:.0f} events/s)" if rate else ""),
            f"p99 < {DELAY_P99_TARGET_MS:.0f} ms",
            "PASS" if delivered and delay["p99"] < DELAY_P99_TARGET_MS else "FAIL",
            {"delay_ms": delay},
        )
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
