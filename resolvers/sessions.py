"""Sessions: a JWT access token plus an opaque refresh token that rotates on every use.

Reusing a rotated refresh token revokes the whole session (the token was probably stolen),
except within a short grace period, so that two tabs refreshing at once both succeed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from tortoise.queryset import QuerySet

from infra.live_sessions import REVOKED_CHANNEL
from infra.services import Services
from infra.tokens import hash_secret, new_secret_token
from models import AuthSession, RefreshToken, User
from resolvers.errors import Unauthenticated

INVALID_REFRESH = "The refresh token is invalid or has expired."


class SessionUser(BaseModel):
    id: uuid.UUID
    email: str


class SessionTokens(BaseModel):
    """A new session as both transports answer it: its fields are declared here once (the REST
    body is this model, the GraphQL type is derived from it)."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str
    user: SessionUser


async def _tokens_for(services: Services, session: AuthSession, user: User) -> SessionTokens:
    refresh = new_secret_token()
    await RefreshToken.create(session=session, token_hash=hash_secret(refresh))
    access = services.access_tokens.issue(
        user_id=user.id, email=user.email, session_id=session.id, role=user.role
    )
    return SessionTokens(
        access_token=access,
        refresh_token=refresh,
        expires_in=services.access_tokens.ttl,
        token_type="bearer",
        user=SessionUser(id=user.id, email=user.email),
    )


async def open_session(services: Services, user: User) -> SessionTokens:
    session = await AuthSession.create(user=user)
    return await _tokens_for(services, session, user)


async def refresh_session(services: Services, refresh_token: str) -> SessionTokens:
    row = await RefreshToken.get_or_none(token_hash=hash_secret(refresh_token)).select_related(
        "session__user"
    )
    if row is None or row.session.revoked_at is not None:
        raise Unauthenticated(INVALID_REFRESH)
    now = datetime.now(UTC)
    rotated_at = row.rotated_at
    if rotated_at is None:
        if await RefreshToken.filter(id=row.id, rotated_at=None).update(rotated_at=now):
            return await _tokens_for(services, row.session, row.session.user)
        await row.refresh_from_db(fields=["rotated_at"])  # a racing request rotated it first
        rotated_at = row.rotated_at or now
    grace = services.settings.refresh_reuse_grace_s
    # `now` was read before a racing rotation, so the elapsed time can be negative: without a
    # grace period every reuse revokes, however close the race.
    if grace > 0 and (now - rotated_at).total_seconds() <= grace:
        return await _tokens_for(services, row.session, row.session.user)
    await revoke_sessions(services, AuthSession.filter(id=row.session_id))
    raise Unauthenticated(INVALID_REFRESH)


async def revoke_sessions(services: Services, sessions: QuerySet[AuthSession]) -> None:
    """Mark sessions revoked; their access tokens are refused from the next request on, in
    every process (each forgets the sessions it had seen live)."""
    live = sessions.filter(revoked_at=None)
    ids = [uuid.UUID(str(i)) for i in await live.values_list("id", flat=True)]
    if not ids:
        return
    await AuthSession.filter(id__in=ids, revoked_at=None).update(revoked_at=datetime.now(UTC))
    services.live_sessions.forget(ids)
    await services.events.publish(REVOKED_CHANNEL, {"ids": [str(i) for i in ids]})


async def sign_out(services: Services, refresh_token: str) -> None:
    """Revoke the session of a refresh token; unknown tokens are ignored (204 either way)."""
    row = await RefreshToken.get_or_none(token_hash=hash_secret(refresh_token))
    if row is not None:
        await revoke_sessions(services, AuthSession.filter(id=row.session_id))
