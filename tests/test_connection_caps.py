"""MAX_WS_CONNECTIONS_PER_USER on both websocket subprotocols (docs/security.md): one socket
more than the cap is closed with 4429 after its `connection_init`; closing a socket gives its
slot back; sockets without a valid token are not counted. On one process here (embedded or
Redis-backed counting); tests/test_caps_multiprocess.py counts across two processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.agent_stream import wait_for
from tests.support.client import Api
from tests.support.live_server import (
    LEGACY_WS,
    PROTOCOLS,
    auth_payload,
    error_code,
    gql_socket,
    live_server,
)

TWO_SOCKETS = pytest.mark.parametrize(
    "settings_overrides", [{"max_ws_connections_per_user": 2}], indirect=True
)
INBOX = "subscription { inboxMessages { id } }"


@pytest.fixture
async def ws_url(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as url:
        yield url


def open_sockets(app: Any, user_id: str) -> int:
    count: int = app.state.ws_caps.open_streams(user_id)
    return count


@contextlib.asynccontextmanager
async def raw_socket(url: str, protocol: str) -> AsyncIterator[ClientConnection]:
    subprotocols = [Subprotocol(protocol)]
    async with connect(url, subprotocols=subprotocols, open_timeout=5, close_timeout=1) as ws:
        yield ws


async def refused(url: str, protocol: str, token: str) -> None:
    """A socket whose `connection_init` is answered by closing it with 4429."""
    async with raw_socket(url, protocol) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": auth_payload(token)}))
        messages = []
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:
                    messages.append(json.loads(await ws.recv()))
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4429, closed.value
        assert closed.value.rcvd.reason == "Too many connections"
        if protocol == LEGACY_WS:  # the legacy protocol reports it before closing
            assert messages == [
                {"type": "connection_error", "payload": {"message": "Too many connections"}}
            ]
        else:
            assert messages == []


@TWO_SOCKETS
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sockets_over_the_cap_are_closed_with_4429(
    api: Api, app: Any, ws_url: str, protocol: str
) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    async with (
        gql_socket(ws_url, protocol, auth_payload(ann.access_token)) as one,
        gql_socket(ws_url, protocol, auth_payload(ann.access_token)),
    ):
        assert open_sockets(app, ann.id) == 2
        await refused(ws_url, protocol, ann.access_token)
        # Per user: bob's sockets are not affected, nor are sockets without a (valid) token.
        async with (
            gql_socket(ws_url, protocol, auth_payload(bob.access_token)),
            gql_socket(ws_url, protocol, None) as anonymous,
            gql_socket(ws_url, protocol, auth_payload("not-a-token")),
        ):
            op = await anonymous.subscribe(INBOX)
            assert error_code(await anonymous.event(op)) == "UNAUTHENTICATED"
        # The open sockets still work.
        op = await one.subscribe(INBOX)
        assert await one.silent(op, 0.3)
    # Closing gives the slots back: two new sockets are accepted again.
    await wait_for(lambda: open_sockets(app, ann.id) == 0)
    for _ in range(2):
        async with (
            gql_socket(ws_url, protocol, auth_payload(ann.access_token)),
            gql_socket(ws_url, protocol, auth_payload(ann.access_token)),
        ):
            await refused(ws_url, protocol, ann.access_token)
        await wait_for(lambda: open_sockets(app, ann.id) == 0)


@TWO_SOCKETS
async def test_both_protocols_share_the_cap(api: Api, app: Any, ws_url: str) -> None:
    ann = await api.quick_user()
    first, second = PROTOCOLS
    async with (
        gql_socket(ws_url, first, auth_payload(ann.access_token)),
        gql_socket(ws_url, second, auth_payload(ann.access_token)),
    ):
        for protocol in PROTOCOLS:
            await refused(ws_url, protocol, ann.access_token)
    await wait_for(lambda: open_sockets(app, ann.id) == 0)
