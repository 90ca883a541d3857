"""How every client process starts, opens its connections, reports and ends.

Each client (`python -m bench.clients.<name>`) raises its file-descriptor limit and installs
uvloop before its loop starts, opens its connections as concurrent tasks that each say when
they are open (or failed), and cancels them once it has reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bench.clients.common import (
    Subscriber,
    emit,
    fanout_report,
    install_uvloop,
    raise_fd_limit,
    read_command,
    wait_all,
)

T = TypeVar("T")


def run_client(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `main()` in a fresh loop, with as many file descriptors as allowed and uvloop."""
    raise_fd_limit()
    install_uvloop()
    asyncio.run(main())


async def start_connections(
    count: int, connect: Callable[[int, asyncio.Future[T]], Coroutine[Any, Any, None]]
) -> tuple[list[asyncio.Task[None]], list[T]]:
    """`count` tasks `connect(i, opened)`, each setting `opened` once its connection is open (or
    failed); returns the tasks and what each set, once all have."""
    loop = asyncio.get_running_loop()
    opened: list[asyncio.Future[T]] = [loop.create_future() for _ in range(count)]
    tasks = [asyncio.create_task(connect(i, future)) for i, future in enumerate(opened)]
    return tasks, list(await asyncio.gather(*opened))


async def cancel_connections(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.gather(*tasks, return_exceptions=True)


def fanout_arguments() -> argparse.Namespace:
    """The command line of the agent-stream fan-out clients (bench.clients.sse, .gqlws)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--thread", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    return parser.parse_args()


async def report_fanout_on_go(subscribers: list[Subscriber]) -> None:
    """Wait for `go <timeout_s>` on stdin, then for every subscriber to end (or the timeout),
    and print the `done` report."""
    command = await read_command()
    timeout = float(command.split()[1]) if command.startswith("go") else 0.0
    elapsed = await wait_all(subscribers, timeout)
    emit(fanout_report(subscribers, elapsed))
