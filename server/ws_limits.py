"""Limits of the GraphQL websockets, on both subprotocols:

- a socket that does not send `connection_init` within `WS_CONNECTION_INIT_TIMEOUT_S` is closed
  with 4408. `graphql-transport-ws` has this built in (Strawberry's
  `connection_init_wait_timeout`, which `configure_websockets` sets); the legacy `graphql-ws`
  protocol does not define one, so its handler gets the same timer here;
- a user holds at most `MAX_WS_CONNECTIONS_PER_USER` sockets at once, across processes. A socket
  belongs to a user from the `connection_init` whose token authenticates; one more is closed with
  4429 "Too many connections" (the legacy protocol first gets a `connection_error`). A socket
  whose `connection_init` carries no valid token is not counted: it can run nothing that needs a
  user, and it is closed 4408 unless it initialises in time.

Kept apart from `server.graphql_app` (the mount itself).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)

from infra.rate_limits import RateLimitExceeded
from infra.stream_caps import StreamCaps, StreamSlot
from observability.metrics import WEBSOCKETS_OPEN
from resolvers.errors import DomainError
from schema.context import Context
from server.graphql_app import GraphQLEndpoint, GroupedTransportWSHandler, LegacyWSHandler

INIT_TIMEOUT_CODE = 4408
INIT_TIMEOUT_REASON = "Connection initialisation timeout"
# graphql-transport-ws closes a second `connection_init` with 4429 "Too many initialisation
# requests"; more sockets than a user may hold are the same kind of refusal.
TOO_MANY_CODE = 4429
TOO_MANY_REASON = "Too many connections"


async def take_connection_slot(context: Context, payload: object) -> StreamSlot | None:
    """The socket's slot among its user's `MAX_WS_CONNECTIONS_PER_USER`; None when the payload
    names nobody (no token, or one that does not authenticate: such a socket is not counted).
    Raises `RateLimitExceeded` when the user already holds the cap."""
    if not isinstance(payload, dict):
        return None  # the protocol handler refuses the payload itself
    context.connection_params = payload
    try:
        viewer = await context.viewer()
    except DomainError:  # its operations will answer UNAUTHENTICATED, as before
        return None
    request = context.request
    assert request is not None
    caps = request.app.state.ws_caps
    assert isinstance(caps, StreamCaps)
    return await caps.acquire(viewer.user_id)


class CappedTransportWSHandler(GroupedTransportWSHandler):
    """`graphql-transport-ws`, counting the socket against its user's connection cap."""

    connection_slot: StreamSlot | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if not self.connection_init_received and self.connection_slot is None:
            try:
                self.connection_slot = await take_connection_slot(
                    self.context, message.get("payload", {})
                )
            except RateLimitExceeded:
                await self.websocket.close(code=TOO_MANY_CODE, reason=TOO_MANY_REASON)
                return
        await super().handle_connection_init(message)

    async def handle(self) -> None:
        WEBSOCKETS_OPEN.inc()
        try:
            await super().handle()
        finally:
            WEBSOCKETS_OPEN.dec()
            if self.connection_slot is not None:
                self.connection_slot.release()


class TimedLegacyWSHandler(LegacyWSHandler):
    """The legacy handler, closing sockets that stay uninitialised too long and counting each
    against its user's connection cap."""

    connection_slot: StreamSlot | None = None

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        if self.connection_slot is None:
            try:
                self.connection_slot = await take_connection_slot(
                    self.context, message.get("payload")
                )
            except RateLimitExceeded:
                await self.send_message(
                    {"type": "connection_error", "payload": {"message": TOO_MANY_REASON}}
                )
                await self.websocket.close(code=TOO_MANY_CODE, reason=TOO_MANY_REASON)
                return
        await super().handle_connection_init(message)

    async def handle(self) -> None:
        timer = asyncio.create_task(self._close_unless_initialised())
        WEBSOCKETS_OPEN.inc()
        try:
            await super().handle()
        finally:
            WEBSOCKETS_OPEN.dec()
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await timer
            if self.connection_slot is not None:
                self.connection_slot.release()

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.context.services.settings.ws_connection_init_timeout_s)
        if not self.connection_acknowledged:
            await self.websocket.close(code=INIT_TIMEOUT_CODE, reason=INIT_TIMEOUT_REASON)


def configure_websockets(router: GraphQLEndpoint, init_timeout_s: float) -> None:
    router.connection_init_wait_timeout = timedelta(seconds=init_timeout_s)
    router.graphql_ws_handler_class = TimedLegacyWSHandler
    router.graphql_transport_ws_handler_class = CappedTransportWSHandler
