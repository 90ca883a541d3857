"""FastAPI dependencies: the service container, the caller, the client address and path ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from infra.services import Services
from resolvers.errors import NotFound, Unauthenticated
from resolvers.viewer import Viewer, authenticate

_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/sessions")


# Dependencies are coroutines on purpose: FastAPI runs a plain `def` dependency in a thread
# pool, which costs more than the work it does.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_viewer(
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    if credentials is None:
        raise Unauthenticated("Authentication required: send 'Authorization: Bearer <token>'.")
    return await authenticate(services, credentials.credentials)


ServicesDep = Annotated[Services, Depends(get_services)]
ViewerDep = Annotated[Viewer, Depends(current_viewer)]


async def stream_viewer(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[
        str | None,
        Query(
            description="The access token, for clients that cannot send headers (a browser's "
            "EventSource); the Authorization header wins when both are sent",
        ),
    ] = None,
) -> Viewer:
    """The caller of an SSE route: a browser's `EventSource` cannot send an Authorization
    header, so the token may come as `?access_token=` here (and only here: a token in a URL
    reaches logs and histories; `server/log_redaction.py` keeps it out of ours)."""
    if credentials is not None:
        return await authenticate(services, credentials.credentials)
    if access_token is None:
        raise Unauthenticated(
            "Authentication required: send 'Authorization: Bearer <token>' or ?access_token=."
        )
    return await authenticate(services, access_token)


StreamViewerDep = Annotated[Viewer, Depends(stream_viewer)]
ClientIp = Annotated[str, Depends(client_ip)]


_UUID_PATH = Path(
    description="A UUID; a malformed one is 404 like an unknown one",
    json_schema_extra={"format": "uuid"},
)


def _uuid_or_not_found(value: str, not_found: str) -> uuid.UUID:
    """A malformed id names nothing the caller can see, so it is the same 404 as an unknown
    one (never 422)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(not_found) from None


def path_id(not_found: str) -> Callable[[str], uuid.UUID]:
    """A dependency reading the `{id}` path parameter as a UUID."""

    def parse(id: Annotated[str, _UUID_PATH]) -> uuid.UUID:
        return _uuid_or_not_found(id, not_found)

    return parse


def path_user_id(not_found: str) -> Callable[[str], uuid.UUID]:
    """A dependency reading the `{user_id}` path parameter as a UUID. (FastAPI names a path
    parameter by the function's parameter, so each name needs its own function.)"""

    def parse(user_id: Annotated[str, _UUID_PATH]) -> uuid.UUID:
        return _uuid_or_not_found(user_id, not_found)

    return parse
