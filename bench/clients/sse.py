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
import contextlib

from bench.clients.common import (
    SseStream,
    Subscriber,
    emit,
    fanout_report,
    install_uvloop,
    raise_fd_limit,
    read_command,
    wait_all,
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
    loop = asyncio.get_running_loop()
    opened: list[asyncio.Future[int]] = [loop.create_future() for _ in subscribers]
    tasks = [
        asyncio.create_task(_subscribe(args, sub, gate, fut))
        for sub, fut in zip(subscribers, opened, strict=True)
    ]
    statuses = await asyncio.gather(*opened)
    emit(
        {
            "phase": "ready",
            "connected": sum(1 for s in statuses if s == 200),
            "failed": sum(1 for s in statuses if s != 200),
            "statuses": sorted({s for s in statuses}),
        }
    )
    command = await read_command()
    timeout = float(command.split()[1]) if command.startswith("go") else 0.0
    elapsed = await wait_all(subscribers, timeout)
    emit(fanout_report(subscribers, elapsed))
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.gather(*tasks, return_exceptions=True)


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    args = parser.parse_args()
    raise_fd_limit()
    install_uvloop()
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
