from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from models import User as UserModel
from resolvers import invites


@strawberry.type
class User:
    id: strawberry.ID
    username: str
    avatar_url: str | None
    bio: str | None

    @classmethod
    def of(cls, user: UserModel) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            username=user.username,
            avatar_url=user.avatar_url,
            bio=user.bio,
        )


@strawberry.type
class Me:
    id: strawberry.ID
    username: str
    email: str
    avatar_url: str | None
    bio: str | None
    created_at: datetime
    email_confirmed_at: datetime | None
    timezone: str = strawberry.field(
        description="IANA time zone name (default UTC) the agent reads the caller's dates in."
    )

    @strawberry.field(description="The caller's personal invite code (unlimited uses).")
    async def invite_code(self) -> str:
        return await invites.personal_code(uuid.UUID(self.id))

    @classmethod
    def of(cls, user: UserModel) -> Me:
        return cls(
            id=strawberry.ID(str(user.id)),
            username=user.username,
            email=user.email,
            avatar_url=user.avatar_url,
            bio=user.bio,
            created_at=user.created_at,
            email_confirmed_at=user.email_confirmed_at,
            timezone=user.timezone,
        )


@strawberry.type(description="An account as `GET /auth/users` shows it.")
class AccountLookup:
    id: strawberry.ID
    email: str
    created_at: datetime
    email_confirmed_at: datetime | None

    @classmethod
    def of(cls, user: UserModel) -> AccountLookup:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            created_at=user.created_at,
            email_confirmed_at=user.email_confirmed_at,
        )
