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
from websockets.asyncio.client import ClientConnection, connect

from bench.clients.common import (
    Subscriber,
    emit,
    fanout_report,
    install_uvloop,
    raise_fd_limit,
    read_command,
    wait_all,
)

SUBSCRIPTION = (
    "subscription Events($t: ID!, $after: String) "
    "{ agentEvents(threadId: $t, after: $after) { id type event } }"
)


async def _open(args: argparse.Namespace) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{args.port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=60,
        ping_interval=None,
        max_size=1 << 22,
    )
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {args.token}"}}
    await ws.send(orjson.dumps(init).decode())
    ack = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    variables = {"t": args.thread, "after": args.after}
    message = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": SUBSCRIPTION, "variables": variables},
    }
    await ws.send(orjson.dumps(message).decode())
    return ws


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
    loop = asyncio.get_running_loop()
    opened: list[asyncio.Future[bool]] = [loop.create_future() for _ in subscribers]
    tasks = [
        asyncio.create_task(_subscribe(args, sub, gate, fut))
        for sub, fut in zip(subscribers, opened, strict=True)
    ]
    results = await asyncio.gather(*opened)
    emit(
        {
            "phase": "ready",
            "connected": sum(1 for ok in results if ok),
            "failed": sum(1 for ok in results if not ok),
            "errors": [sub.error for sub in subscribers if sub.error][:3],
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
