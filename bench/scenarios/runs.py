"""Run latency: `POST /agent/runs` → that run's `RUN_STARTED` on SSE, at a fixed rate, with the
server leaving runs to 2 `runtime-api worker` processes and the offline model."""

from __future__ import annotations

import asyncio
import uuid

from bench.clients.driver import ClientProcess
from bench.context import Bench, Row
from bench.scenarios.agent_common import run_to_end

P50_TARGET_MS = 30.0
P99_TARGET_MS = 150.0
WORKERS = 2


async def run_latency(bench: Bench) -> None:
    assert bench.server is not None and bench.viewer is not None
    p = bench.profile
    bench.ensure_workers(WORKERS)
    server, token = bench.server, bench.viewer.token
    threads = [str(uuid.uuid4()) for _ in range(p.run_threads)]
    gate = asyncio.Semaphore(8)

    async def create(thread: str) -> None:
        async with gate:
            await run_to_end(server.base_url, token, thread)

    await asyncio.gather(*(create(t) for t in threads))
    args = [
        "--port",
        str(server.port),
        "--token",
        token,
        "--threads",
        ",".join(threads),
        "--rate",
        str(p.run_rate),
        "--duration",
        str(p.run_duration_s),
    ]
    client = ClientProcess("bench.clients.runs", args, bench.work_dir)
    try:
        await client.read(limit_s=60)
        client.send("go")
        done = await client.read(limit_s=p.run_duration_s + 90)
    finally:
        client.stop()
    latency = done["latency_ms"]
    complete = done["started_seen"] == done["posted"] and done["post_statuses"] == {
        "202": done["posted"]
    }
    seen = f"{done['started_seen']}/{done['posted']} started"
    label = f"Run latency @{p.run_rate:g}/s, {WORKERS} workers"
    bench.rows.append(
        Row(
            f"{label}: p50",
            f"{latency['p50']:.1f} ms ({seen})",
            f"< {P50_TARGET_MS:.0f} ms",
            "PASS" if complete and latency["p50"] < P50_TARGET_MS else "FAIL",
            done,
        )
    )
    bench.rows.append(
        Row(
            f"{label}: p99",
            f"{latency['p99']:.1f} ms (POST itself p50 {done['post_ms']['p50']:.1f} ms)",
            f"< {P99_TARGET_MS:.0f} ms",
            "PASS" if complete and latency["p99"] < P99_TARGET_MS else "FAIL",
        )
    )
