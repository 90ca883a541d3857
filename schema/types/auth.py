from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from models import InviteCode as InviteCodeModel
from resolvers import sessions
from resolvers.sessions import SessionTokens


@strawberry.experimental.pydantic.type(model=sessions.SessionUser)
class SessionUser:
    id: strawberry.ID
    email: strawberry.auto


# The fields are the resolvers' (resolvers/sessions.py), declared once.
@strawberry.experimental.pydantic.type(model=SessionTokens, all_fields=True, name="Session")
class Session:
    """Built with `Session.from_pydantic(tokens)`."""


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
