"""Handshake limits of the GraphQL websockets: a socket that does not send `connection_init`
within `WS_CONNECTION_INIT_TIMEOUT_S` is closed with 4408, on both subprotocols.

`graphql-transport-ws` has this built in (Strawberry's `connection_init_wait_timeout`, which
`configure_websockets` sets); the legacy `graphql-ws` protocol does not define one, so its
handler gets the same timer here. Kept apart from `server.graphql_app` (the mount itself).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from server.graphql_app import LegacyWSHandler, OfflineGraphiQLRouter

INIT_TIMEOUT_CODE = 4408
INIT_TIMEOUT_REASON = "Connection initialisation timeout"


class TimedLegacyWSHandler(LegacyWSHandler):
    """The legacy handler, closing sockets that stay uninitialised too long."""

    async def handle(self) -> None:
        timer = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await timer

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.context.services.settings.ws_connection_init_timeout_s)
        if not self.connection_acknowledged:
            await self.websocket.close(code=INIT_TIMEOUT_CODE, reason=INIT_TIMEOUT_REASON)


def configure_websockets(router: OfflineGraphiQLRouter, init_timeout_s: float) -> None:
    router.connection_init_wait_timeout = timedelta(seconds=init_timeout_s)
    router.graphql_ws_handler_class = TimedLegacyWSHandler
