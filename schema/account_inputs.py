"""GraphQL inputs of the account domain: the REST bodies in camelCase, validated by the same
pydantic models (through `schema.requests.to_request`)."""

from __future__ import annotations

import strawberry

from schema.types.auth import CodeType


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
