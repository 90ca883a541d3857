"""Run-latency client: `POST /api/v1/agent/runs` at a fixed rate over pre-created threads, one
SSE subscriber per thread; latency = POST sent → that run's `RUN_STARTED` received.

    python -m bench.clients.runs --port P --token TOKEN --threads T1,T2,... --rate 20 --duration 20

Prints `{"phase": "ready"}` when every thread's stream is open, waits for `go` on stdin, then
posts for `duration` seconds and prints `{"phase": "done", ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

import httpx
import orjson

from bench.clients.common import SseStream, emit, read_command, summary
from bench.clients.lifecycle import cancel_connections, run_client, start_connections


class Tracker:
    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.finished: set[str] = set()
        self.statuses: dict[int, int] = {}
        self.post_ms: list[float] = []
        self.all_started = asyncio.Event()
        self.expected = 0

    def on_event(self, kind: str | None, data: str, received: float) -> None:
        if kind not in ("RUN_STARTED", "RUN_FINISHED", "RUN_ERROR"):
            return
        run_id = orjson.loads(data).get("runId")
        if run_id not in self.sent:
            return  # a warm-up run
        if kind == "RUN_STARTED":
            self.started.setdefault(run_id, received)
            if self.expected and len(self.started) >= self.expected:
                self.all_started.set()
        else:
            self.finished.add(run_id)


async def _watch(
    args: argparse.Namespace, thread: str, tracker: Tracker, opened: asyncio.Future[int]
) -> None:
    headers = {"Authorization": f"Bearer {args.token}"}
    stream = SseStream("127.0.0.1", args.port, f"/api/v1/agent/runs/{thread}/events", headers)
    try:
        opened.set_result(await stream.open())
        async for event in stream.events():
            tracker.on_event(event.type, event.data, event.received)
    except Exception:
        if not opened.done():
            opened.set_result(0)
    finally:
        stream.close()


async def _post(client: httpx.AsyncClient, tracker: Tracker, thread: str, run_id: str) -> None:
    body = {
        "threadId": thread,
        "runId": run_id,
        "messages": [{"id": f"m-{run_id}", "role": "user", "content": "hello there"}],
    }
    sent = time.time()
    tracker.sent[run_id] = sent
    try:
        response = await client.post("/api/v1/agent/runs", json=body)
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    tracker.post_ms.append((time.time() - sent) * 1000)
    tracker.statuses[status] = tracker.statuses.get(status, 0) + 1


async def main(args: argparse.Namespace) -> None:
    threads = args.threads.split(",")
    tracker = Tracker()

    async def connect(i: int, opened: asyncio.Future[int]) -> None:
        await _watch(args, threads[i], tracker, opened)

    watchers, statuses = await start_connections(len(threads), connect)
    emit({"phase": "ready", "connected": sum(1 for s in statuses if s == 200)})
    await read_command()
    total = int(args.rate * args.duration)
    tracker.expected = total
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {args.token}"}
    posts: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{args.port}", headers=headers, limits=limits, timeout=30
    ) as client:
        # Warm the connection pool so that the first runs do not pay for TCP handshakes.
        await client.get("/api/v1/health")
        t0 = time.monotonic()
        for i in range(total):
            delay = t0 + i / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            run_id = f"lat-{i}"
            posts.append(
                asyncio.create_task(_post(client, tracker, threads[i % len(threads)], run_id))
            )
        await asyncio.gather(*posts)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tracker.all_started.wait(), 30)
    latencies = [
        (tracker.started[r] - tracker.sent[r]) * 1000 for r in tracker.sent if r in tracker.started
    ]
    emit(
        {
            "phase": "done",
            "posted": total,
            "post_statuses": {str(k): v for k, v in tracker.statuses.items()},
            "started_seen": len(tracker.started),
            "finished_seen": len(tracker.finished),
            "latency_ms": summary(latencies),
            "post_ms": summary(tracker.post_ms),
        }
    )
    await cancel_connections(watchers)


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--threads", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    run_client(lambda: main(args))


if __name__ == "__main__":
    cli()
