"""Python's `gql` client, as a third party would use it, against the test's live server.

`gql_ws_session` opens gql's `WebsocketsTransport` on one of the two GraphQL websocket protocols
(authenticated by the `connection_init` payload); `gql_http_session` opens its
`HTTPXAsyncTransport` (authenticated by an `Authorization` header). Both yield gql's own
`AsyncClientSession`, so what a test sees is what gql makes of the server's answers.

`GqlSubscription` iterates one gql subscription in the background: a GraphQL subscription has
no "ready" message, so the test must be able to wait until the server listens (`listening`)
before it causes the event it expects, while gql already waits for that event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.support.live_server import EVENT_TIMEOUT_S, LEGACY_WS, TRANSPORT_WS, auth_payload

# gql names the two protocols after the libraries that introduced them.
GQL_SUBPROTOCOLS = {
    TRANSPORT_WS: WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL,
    LEGACY_WS: WebsocketsTransport.APOLLO_SUBPROTOCOL,
}


def http_url(ws_url: str) -> str:
    """`live_server`'s ws://…/graphql as the http:// URL of the same endpoint."""
    return ws_url.replace("ws://", "http://", 1)


@contextlib.asynccontextmanager
async def gql_ws_session(
    url: str, protocol: str, token: str | None = None
) -> AsyncIterator[AsyncClientSession]:
    """A gql session over a websocket speaking only `protocol`, signed in with `token`."""
    transport = WebsocketsTransport(
        url=url,
        subprotocols=[GQL_SUBPROTOCOLS[protocol]],
        init_payload=auth_payload(token) if token else {},
        ack_timeout=EVENT_TIMEOUT_S,
        close_timeout=1,
        connect_args={"open_timeout": EVENT_TIMEOUT_S},
    )
    client = Client(transport=transport, execute_timeout=EVENT_TIMEOUT_S)
    async with client as session:
        # gql falls back to a protocol of its own choosing when the server names none.
        assert transport.subprotocol == protocol, transport.subprotocol
        yield session


@contextlib.asynccontextmanager
async def gql_http_session(url: str, token: str | None = None) -> AsyncIterator[AsyncClientSession]:
    """A gql session posting to the http:// endpoint `url`, signed in with `token`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = HTTPXAsyncTransport(url=url, headers=headers, timeout=EVENT_TIMEOUT_S)
    async with Client(transport=transport, execute_timeout=EVENT_TIMEOUT_S) as session:
        yield session


async def run(
    session: AsyncClientSession, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `data` of one query or mutation through gql (gql raises on any error)."""
    data: dict[str, Any] = await session.execute(GraphQLRequest(query, variable_values=variables))
    return data


class _End:
    """Put in the queue when gql's iterator ends: the server completed the subscription."""


class GqlSubscription:
    """One subscription of a gql session, read in a background task."""

    def __init__(self, session: AsyncClientSession, request: GraphQLRequest) -> None:
        self._queue: asyncio.Queue[dict[str, Any] | BaseException | _End] = asyncio.Queue()
        self._held: list[dict[str, Any] | BaseException | _End] = []  # seen by `silent`
        self._task = asyncio.create_task(self._read(session, request))

    async def _read(self, session: AsyncClientSession, request: GraphQLRequest) -> None:
        try:
            async for data in session.subscribe(request):
                await self._queue.put(data)
        except Exception as exc:  # handed to the test, which is waiting in `next`
            await self._queue.put(exc)
        else:
            await self._queue.put(_End())

    async def _item(self, seconds: float) -> dict[str, Any] | BaseException | _End:
        if self._held:
            return self._held.pop()
        return await asyncio.wait_for(self._queue.get(), seconds)

    async def next(self, seconds: float = EVENT_TIMEOUT_S) -> dict[str, Any]:
        """The next result's `data`; raises what gql raised (e.g. `TransportQueryError`)."""
        item = await self._item(seconds)
        if isinstance(item, BaseException):
            raise item
        assert not isinstance(item, _End), "the subscription ended"
        return item

    async def ends(self, seconds: float = EVENT_TIMEOUT_S) -> None:
        """The server completes the subscription next, with no further result."""
        item = await self._item(seconds)
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, _End), f"one more result instead of the end: {item}"

    async def silent(self, seconds: float) -> bool:
        """True when nothing at all arrives within `seconds`."""
        try:
            item = await self._item(seconds)
        except TimeoutError:
            return True
        self._held.append(item)
        return False

    async def close(self) -> None:
        """Stop reading; gql tells the server to stop the operation if it still runs."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def subscription(
    session: AsyncClientSession, query: str, variables: dict[str, Any] | None = None
) -> AsyncIterator[GqlSubscription]:
    sub = GqlSubscription(session, GraphQLRequest(query, variable_values=variables))
    try:
        yield sub
    finally:
        await sub.close()
