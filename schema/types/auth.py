from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from models import InviteCode as InviteCodeModel
from resolvers.sessions import SessionTokens


@strawberry.type
class SessionUser:
    id: strawberry.ID
    email: str


@strawberry.type
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str
    user: SessionUser

    @classmethod
    def of(cls, tokens: SessionTokens) -> Session:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
            token_type=tokens.token_type,
            user=SessionUser(id=strawberry.ID(str(tokens.user_id)), email=tokens.email),
        )


@strawberry.type
class SignupRequested:
    email: str


@strawberry.type
class InviteCode:
    code: str
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    disabled: bool

    @classmethod
    def of(cls, code: InviteCodeModel) -> InviteCode:
        return cls(
            code=code.code,
            max_uses=code.max_uses,
            uses=code.uses,
            expires_at=code.expires_at,
            disabled=code.disabled,
        )


@strawberry.type
class Health:
    status: str
    services: JSON


@strawberry.enum
class CodeType(Enum):
    SIGNUP = "signup"
    RECOVERY = "recovery"
