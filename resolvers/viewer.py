"""Who is calling: the authenticated user behind an access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from infra.services import Services
from infra.tokens import InvalidToken
from models import AuthSession
from resolvers.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: uuid.UUID
    email: str
    role: str
    session_id: uuid.UUID

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None when absent."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <access token>'.")
    return token.strip()


async def authenticate(services: Services, token: str) -> Viewer:
    """Decode the token and check that its session is still live (logout takes effect at once)."""
    try:
        claims = services.access_tokens.decode(token)
    except InvalidToken:
        raise Unauthenticated("The access token is invalid or has expired.") from None
    if not services.live_sessions.known_live(claims.session_id):
        live = await AuthSession.filter(
            id=claims.session_id, user_id=claims.user_id, revoked_at=None
        ).exists()
        if not live:
            raise Unauthenticated("The session has ended; sign in again.")
        services.live_sessions.remember(claims.session_id)
    return Viewer(
        user_id=claims.user_id,
        email=claims.email,
        role=claims.role,
        session_id=claims.session_id,
    )
