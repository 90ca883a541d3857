"""Calendar fan-out client: N `graphql-transport-ws` sockets, one per user (a token a line in
--tokens-file), each subscribed to `scheduleItemChanged(id: --item)` or to `inboxMessages`.

    python -m bench.clients.calendar --port P --tokens-file F --mode item|inbox --item ID

Each received event becomes (index, receipt time): in `item` mode the index is the number in
the item's title (`bench change #<k>`: the orchestrator's k-th write; 0 for any other title,
such as the probe's), in `inbox` mode 1 for an invitation to --item and -1 for anything else.
Stdout/stdin protocol:

- prints `{"phase": "ready", ...}` once every socket has its `connection_ack` and has sent its
  `subscribe`;
- `wait <index> <timeout_s>`: waits until every subscriber has received an event of at least
  that index (or failed), prints `{"phase": "reached", "count": ...}`;
- `report`: prints `{"phase": "done", "received": [[[index, time], ...] per subscriber], ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection

from bench.clients.common import emit, read_command
from bench.clients.graphql_ws import open_subscription
from bench.clients.lifecycle import cancel_connections, run_client, start_connections

ITEM_SUBSCRIPTION = (
    "subscription Changes($id: ID!) "
    "{ scheduleItemChanged(id: $id) { kind item { id title updatedAt permission } } }"
)
INBOX_SUBSCRIPTION = (
    "subscription Inbox { inboxMessages { id messageType status permission scheduleItem { id } } }"
)
TITLE_INDEX = re.compile(r"^bench change #(\d+)$")


@dataclass
class Watcher:
    received: list[tuple[int, float]] = field(default_factory=list)
    highest: int = -(1 << 30)
    error: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, index: int, at: float) -> None:
        self.received.append((index, at))
        self.highest = max(self.highest, index)
        self.changed.set()

    def fail(self, error: str) -> None:
        self.error = self.error or error
        self.changed.set()


def _index(mode: str, item: str, data: dict[str, Any]) -> int:
    if mode == "item":
        title = str(data["scheduleItemChanged"]["item"]["title"])
        match = TITLE_INDEX.search(title)
        return int(match.group(1)) if match else 0  # the probe, or the state at subscribe
    message = data["inboxMessages"]
    target = message.get("scheduleItem") or {}
    return 1 if target.get("id") == item else -1


async def _open(args: argparse.Namespace, token: str) -> ClientConnection:
    if args.mode == "item":
        payload: dict[str, Any] = {"query": ITEM_SUBSCRIPTION, "variables": {"id": args.item}}
    else:
        payload = {"query": INBOX_SUBSCRIPTION}
    return await open_subscription(args.port, token, payload)


async def _watch(
    args: argparse.Namespace,
    token: str,
    watcher: Watcher,
    gate: asyncio.Semaphore,
    opened: asyncio.Future[bool],
) -> None:
    ws: ClientConnection | None = None
    try:
        async with gate:
            ws = await _open(args, token)
        opened.set_result(True)
        async for raw in ws:
            received = time.time()
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    watcher.fail(f"errors: {payload['errors']}")
                    return
                watcher.record(_index(args.mode, args.item, payload["data"]), received)
            elif kind in ("error", "complete"):
                watcher.fail(f"{kind}: {message.get('payload')}")
                return
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
        watcher.fail("the socket closed")
    except Exception as exc:
        watcher.fail(f"{type(exc).__name__}: {exc}")
        if not opened.done():
            opened.set_result(False)
    finally:
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()


async def _reach(watcher: Watcher, index: int) -> None:
    while watcher.highest < index and watcher.error is None:
        watcher.changed.clear()
        await watcher.changed.wait()


async def main(args: argparse.Namespace, tokens: list[str]) -> None:
    watchers = [Watcher() for _ in tokens]
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def connect(i: int, opened: asyncio.Future[bool]) -> None:
        await _watch(args, tokens[i], watchers[i], gate, opened)

    tasks, results = await start_connections(len(tokens), connect)
    emit(
        {
            "phase": "ready",
            "connected": sum(1 for ok in results if ok),
            "failed": sum(1 for ok in results if not ok),
            "errors": [w.error for w in watchers if w.error][:3],
        }
    )
    while True:
        command = (await read_command()).split()
        if not command or command[0] == "report":
            break
        if command[0] == "wait":
            index, limit = int(command[1]), float(command[2])
            waiters = [asyncio.ensure_future(_reach(w, index)) for w in watchers]
            _, pending = await asyncio.wait(waiters, timeout=limit)
            for waiter in pending:
                waiter.cancel()
            reached = sum(1 for w in watchers if w.highest >= index)
            emit({"phase": "reached", "index": index, "count": reached})
    errors = [w.error for w in watchers if w.error]
    emit(
        {
            "phase": "done",
            "received": [[[i, round(t, 6)] for i, t in w.received] for w in watchers],
            "errors": errors[:5],
            "error_count": len(errors),
        }
    )
    await cancel_connections(tasks)


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens-file", required=True)
    parser.add_argument("--mode", choices=["item", "inbox"], required=True)
    parser.add_argument("--item", required=True)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    args = parser.parse_args()
    tokens = [t for t in Path(args.tokens_file).read_text().splitlines() if t]
    run_client(lambda: main(args, tokens))


if __name__ == "__main__":
    cli()
