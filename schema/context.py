"""The per-request (per-socket, for websockets) GraphQL context."""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from infra.services import Services
from resolvers.errors import Unauthenticated
from resolvers.viewer import Viewer, authenticate, bearer_token


class Context(BaseContext):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self._viewer: Viewer | None = None

    @property
    def client_ip(self) -> str:
        conn = self.request
        return conn.client.host if conn is not None and conn.client else "unknown"

    def _token(self) -> str | None:
        # `request` is the WebSocket on subscriptions: its token is in connection_init.
        if not isinstance(self.request, WebSocket):
            headers = self.request.headers if self.request is not None else {}
            return bearer_token(headers.get("authorization"))
        payload: dict[str, Any] = self.connection_params or {}
        if isinstance(payload.get("token"), str):
            return str(payload["token"])
        header = payload.get("Authorization") or payload.get("authorization")
        return bearer_token(header) if isinstance(header, str) else None

    async def viewer(self) -> Viewer:
        """The authenticated caller; checked once per request (the session may be revoked)."""
        if self._viewer is None:
            token = self._token()
            if token is None:
                raise Unauthenticated("Authentication required: send 'Authorization: Bearer'.")
            self._viewer = await authenticate(self.services, token)
        return self._viewer


GqlInfo = Info[Context, None]


async def require_viewer(info: GqlInfo) -> Viewer:
    return await info.context.viewer()
