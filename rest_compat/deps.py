"""FastAPI dependencies: the service container, the caller and the client address."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from infra.services import Services
from resolvers.errors import Unauthenticated
from resolvers.viewer import Viewer, authenticate

_bearer = HTTPBearer(auto_error=False, description="An access token from /auth/sessions")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_ip(request: Request) -> str:
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
ClientIp = Annotated[str, Depends(client_ip)]
