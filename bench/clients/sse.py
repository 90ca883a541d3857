"""SSE fan-out client: N subscribers to one thread's `GET /api/v1/agent/runs/{t}/events`.

    python -m bench.clients.sse --port P --token TOKEN --thread T --after ID --n 1000 --runs K

Prints `{"phase": "ready", ...}` once every stream is open (status 200 and headers read), then
waits for `go <timeout_s>` on stdin, waits until every subscriber has seen K terminal events
(`RUN_FINISHED`/`RUN_ERROR`), and prints `{"phase": "done", ...}`: per-subscriber id digests (to
compare with the stream's XRANGE), order violations, and XADD→receipt delays.
"""

from __future__ import annotations

import argparse
import asyncio

from bench.clients.common import SseStream, Subscriber, emit
from bench.clients.lifecycle import (
    cancel_connections,
    fanout_arguments,
    report_fanout_on_go,
    run_client,
    start_connections,
)


async def _subscribe(
    args: argparse.Namespace, sub: Subscriber, gate: asyncio.Semaphore, opened: asyncio.Future[int]
) -> None:
    headers = {"Authorization": f"Bearer {args.token}", "Last-Event-ID": args.after}
    stream = SseStream("127.0.0.1", args.port, f"/api/v1/agent/runs/{args.thread}/events", headers)
    try:
        async with gate:
            status = await stream.open()
        opened.set_result(status)
        if status != 200:
            sub.fail(f"status {status}")
            return
        async for event in stream.events():
            if event.id is not None:
                sub.record(event.id, event.type, event.received)
        if not sub.done.is_set():
            sub.fail("stream ended")
    except Exception as exc:
        sub.fail(f"{type(exc).__name__}: {exc}")
        if not opened.done():
            opened.set_result(0)
    finally:
        stream.close()


async def main(args: argparse.Namespace) -> None:
    subscribers = [Subscriber(args.runs) for _ in range(args.n)]
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def connect(i: int, opened: asyncio.Future[int]) -> None:
        await _subscribe(args, subscribers[i], gate, opened)

    tasks, statuses = await start_connections(len(subscribers), connect)
    emit(
        {
            "phase": "ready",
            "connected": sum(1 for s in statuses if s == 200),
            "failed": sum(1 for s in statuses if s != 200),
            "statuses": sorted({s for s in statuses}),
        }
    )
    await report_fanout_on_go(subscribers)
    await cancel_connections(tasks)


def cli() -> None:
    args = fanout_arguments()
    run_client(lambda: main(args))


if __name__ == "__main__":
    cli()
