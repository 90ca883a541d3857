"""The test's app on a real loopback port, and a GraphQL websocket client for both protocols.

`live_server(app)` runs uvicorn inside the test's event loop, so the server shares the test's
database (and, on the real backend, Redis) and the test can drive it over HTTP in-process while
a websocket client listens on the real port.

`GqlSocket` speaks `graphql-transport-ws` and the legacy `graphql-ws` and reports what the server
sends for one operation as an `Event`: `next` (a result, with `data` and maybe `errors`),
`error` (the operation failed before it ran: a list of errors) or `complete`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from resolvers.errors import ErrorCode
from subscriptions import live

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)
EVENT_TIMEOUT_S = 5.0

_ids = itertools.count(1)


@contextlib.asynccontextmanager
async def live_server(app: Any) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port; yields its ws:// URL of /graphql."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    # `_serve`, not `serve`: the latter would take over the test process's signal handlers.
    task = asyncio.create_task(server._serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(5):
                await task
        except TimeoutError:
            task.cancel()
        sock.close()


@dataclass
class Event:
    kind: Literal["next", "error", "complete"]
    payload: Any = None

    @property
    def data(self) -> Any:
        assert self.kind == "next", self
        return self.payload.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The errors of a `next` result or of an `error` message."""
        if self.kind == "error":
            return self.payload if isinstance(self.payload, list) else [self.payload]
        assert self.kind == "next", self
        errors: list[dict[str, Any]] = self.payload.get("errors") or []
        return errors

    @property
    def codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


class GqlSocket:
    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.ack: dict[str, Any] | None = None
        self._pending: dict[str, list[Event]] = {}

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def _receive(self, seconds: float) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), seconds)
            # Both protocols send stringified JSON: a binary frame breaks every stock client.
            assert isinstance(raw, str), f"binary websocket frame: {raw[:200]!r}"
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") in ("ka", "ping", "pong"):
                if message["type"] == "ping":
                    await self._send({"type": "pong"})
                continue
            return message

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self._send(message)
        self.ack = await self._receive(EVENT_TIMEOUT_S)
        assert self.ack["type"] == "connection_ack", self.ack
        return self.ack

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = f"op{next(_ids)}"
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self._send({"id": op_id, "type": kind, "payload": payload})
        self._pending[op_id] = []
        return op_id

    async def stop(self, op_id: str) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self._send({"id": op_id, "type": kind})

    async def event(self, op_id: str, seconds: float = EVENT_TIMEOUT_S) -> Event:
        """The next thing the server says about operation `op_id`."""
        queued = self._pending.setdefault(op_id, [])
        while not queued:
            message = await self._receive(seconds)
            kind = message["type"]
            if kind == "data":  # graphql-ws
                kind = "next"
            assert kind in ("next", "error", "complete"), message
            self._pending.setdefault(message["id"], []).append(Event(kind, message.get("payload")))
        return queued.pop(0)

    async def silent(self, op_id: str, seconds: float = 0.5) -> bool:
        """True when nothing arrives for `op_id` within `seconds`."""
        try:
            event = await self.event(op_id, seconds)
        except TimeoutError:
            return True
        self._pending[op_id].insert(0, event)
        return False


@contextlib.asynccontextmanager
async def gql_socket(
    url: str, protocol: str, init_payload: dict[str, Any] | None = None
) -> AsyncIterator[GqlSocket]:
    """A websocket to `url` speaking `protocol`, initialised with `init_payload`."""
    subprotocols = [Subprotocol(protocol)]
    async with connect(url, subprotocols=subprotocols, open_timeout=5, close_timeout=1) as ws:
        assert ws.subprotocol == protocol
        client = GqlSocket(ws, protocol)
        await client.init(init_payload)
        yield client


async def listening(app: Any, channel: str, count: int = 1, seconds: float = 5) -> None:
    """Wait until exactly `count` subscriptions of `app` listen on event-bus `channel`.

    A GraphQL subscription has no "ready" message: the server starts listening some time after
    the client's `subscribe`, and an event published before that is not for it. Tests wait here
    before they cause the event they expect (peeking at the bus's table of local subscribers;
    with Redis, the process has sent its pattern subscription before a stream is listed there).
    The calendar's streams share one bus subscription per channel (`subscriptions/live_hub.py`):
    they are counted in their hub, and count 0 also waits for the hub to let go of the channel.
    """
    bus = app.state.services.events
    async with asyncio.timeout(seconds):
        while True:
            on_bus = len(bus._local.get(channel, ()))
            if channel.startswith(("inbox:", "schedule-item:")):
                streams = live.listeners(bus, channel)
                if streams == count and (on_bus > 0) == (count > 0):
                    return
            elif on_bus == count:
                return
            await asyncio.sleep(0.01)


def auth_payload(token: str, style: str = "header") -> dict[str, str]:
    """The connection_init payload carrying `token`: as an Authorization header or plainly."""
    return {"Authorization": f"Bearer {token}"} if style == "header" else {"token": token}


def error_code(event: Event) -> str:
    """The one `extensions.code` of an error event (an `error` message or a `next` with errors),
    checked to be one docs/contract.md §2 knows."""
    assert event.kind in ("next", "error"), event
    codes = event.codes
    assert len(codes) == 1 and codes[0] in {c.value for c in ErrorCode}, event
    return str(codes[0])


async def expect_error(socket: GqlSocket, op: str) -> str:
    """The operation fails: an `error` message, or a result with errors and then `complete`;
    returns the error's code."""
    event = await socket.event(op)
    code = error_code(event)
    if event.kind == "next":
        assert event.data is None, event
        assert (await socket.event(op)).kind == "complete"
    return code
