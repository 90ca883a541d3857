"""Response bodies of the account routes: auth, users, health (snake_case, as the source
document has them).

Request bodies are the resolvers' own input models (resolvers/account_inputs.py), so REST and
GraphQL validate with the same rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from models import User
from resolvers.sessions import SessionTokens


class SignupAccepted(BaseModel):
    email: str


# The resolvers' session, under the name the API document has always given it.
class SessionBody(SessionTokens):
    @classmethod
    def of(cls, tokens: SessionTokens) -> SessionBody:
        return cls.model_validate(tokens, from_attributes=True)


class AuthUser(BaseModel):
    id: uuid.UUID
    email: str
    created_at: datetime
    email_confirmed_at: datetime | None

    @classmethod
    def of(cls, user: User) -> AuthUser:
        return cls(
            id=user.id,
            email=user.email,
            created_at=user.created_at,
            email_confirmed_at=user.email_confirmed_at,
        )


class UserProfile(BaseModel):
    id: uuid.UUID
    username: str
    avatar_url: str | None
    bio: str | None

    @classmethod
    def of(cls, user: User) -> UserProfile:
        return cls(id=user.id, username=user.username, avatar_url=user.avatar_url, bio=user.bio)


class OwnProfile(UserProfile):
    """The caller's own profile: the public fields and the caller's settings."""

    timezone: str = Field(description="IANA time zone name the agent reads dates in")

    @classmethod
    def of(cls, user: User) -> OwnProfile:
        return cls(
            id=user.id,
            username=user.username,
            avatar_url=user.avatar_url,
            bio=user.bio,
            timezone=user.timezone,
        )


class Health(BaseModel):
    status: Literal["ok"]


class InfraHealth(BaseModel):
    status: Literal["healthy", "unhealthy"]
    services: dict[str, dict[str, Any]]
