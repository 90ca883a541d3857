"""GraphQL inputs: the REST bodies in camelCase, validated by the same pydantic models."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel

from schema.types.auth import CodeType

RequestT = TypeVar("RequestT", bound=BaseModel)


def to_request(model: type[RequestT], source: object | None = None, **values: Any) -> RequestT:
    """Build the resolver's input model; unset optional fields stay unset (PATCH semantics).
    A pydantic ValidationError raised here reaches the client as BAD_USER_INPUT."""
    if source is not None:
        for name, value in vars(source).items():
            if value is strawberry.UNSET:
                continue
            values[name] = value.value if isinstance(value, Enum) else value
    return model.model_validate(values)


@strawberry.input
class SignupInput:
    username: str
    email: str
    password: str
    redirect_to: str | None = None
    invite_code: str | None = None


@strawberry.input
class ResendCodeInput:
    email: str
    type: CodeType = CodeType.SIGNUP
    redirect_to: str | None = None


@strawberry.input
class VerifySignupInput:
    email: str
    token: str
    password: str | None = strawberry.field(
        default=None,
        description="The password chosen at sign-up; required when several sign-ups are "
        "pending for the email (otherwise CONFLICT).",
    )


@strawberry.input
class VerifyRecoveryInput:
    email: str
    token: str
    new_password: str


@strawberry.input
class SignInInput:
    email: str
    password: str


@strawberry.input
class UpdateMeInput:
    username: str | None = strawberry.UNSET
    avatar_url: str | None = strawberry.UNSET
    bio: str | None = strawberry.UNSET
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET, description="IANA time zone name, e.g. Asia/Shanghai"
    )
