"""Opening one `graphql-transport-ws` subscription, as the websocket clients do."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect


async def open_subscription(port: int, token: str, payload: dict[str, Any]) -> ClientConnection:
    """Connect to /graphql, authenticate with `token` in `connection_init` and send `subscribe`
    (id "1") with `payload`; raises unless the server acknowledges the connection."""
    ws = await connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=60,
        ping_interval=None,
        max_size=1 << 22,
    )
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(orjson.dumps(init).decode())
    ack = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
    return ws
