"""GraphQL fan-out client: N `graphql-transport-ws` subscriptions to `agentEvents`.

    python -m bench.clients.gqlws --port P --token TOKEN --thread T --after ID --n 1000 --runs K

The same protocol on stdout/stdin as bench.clients.sse; "ready" once every socket has its
`connection_ack` and has sent its `subscribe`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

import orjson
from websockets.asyncio.client import ClientConnection

from bench.clients.common import Subscriber, emit
from bench.clients.graphql_ws import open_subscription
from bench.clients.lifecycle import (
    cancel_connections,
    fanout_arguments,
    report_fanout_on_go,
    run_client,
    start_connections,
)

SUBSCRIPTION = (
    "subscription Events($t: ID!, $after: String) "
    "{ agentEvents(threadId: $t, after: $after) { id type event } }"
)


async def _open(args: argparse.Namespace) -> ClientConnection:
    variables = {"t": args.thread, "after": args.after}
    payload = {"query": SUBSCRIPTION, "variables": variables}
    return await open_subscription(args.port, args.token, payload)


async def _subscribe(
    args: argparse.Namespace, sub: Subscriber, gate: asyncio.Semaphore, opened: asyncio.Future[bool]
) -> None:
    ws: ClientConnection | None = None
    try:
        async with gate:
            ws = await _open(args)
        opened.set_result(True)
        async for raw in ws:
            received = time.time()
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    sub.fail(f"errors: {payload['errors']}")
                    return
                event = payload["data"]["agentEvents"]
                sub.record(event["id"], event["type"], received)
            elif kind in ("error", "complete"):
                sub.fail(f"{kind}: {message.get('payload')}")
                return
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
        if not sub.done.is_set():
            sub.fail("the socket closed")
    except Exception as exc:
        sub.fail(f"{type(exc).__name__}: {exc}")
        if not opened.done():
            opened.set_result(False)
    finally:
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()


async def main(args: argparse.Namespace) -> None:
    subscribers = [Subscriber(args.runs) for _ in range(args.n)]
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def connect(i: int, opened: asyncio.Future[bool]) -> None:
        await _subscribe(args, subscribers[i], gate, opened)

    tasks, results = await start_connections(len(subscribers), connect)
    emit(
        {
            "phase": "ready",
            "connected": sum(1 for ok in results if ok),
            "failed": sum(1 for ok in results if not ok),
            "errors": [sub.error for sub in subscribers if sub.error][:3],
        }
    )
    await report_fanout_on_go(subscribers)
    await cancel_connections(tasks)


def cli() -> None:
    args = fanout_arguments()
    run_client(lambda: main(args))


if __name__ == "__main__":
    cli()
