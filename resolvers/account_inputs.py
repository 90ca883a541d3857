"""Validated inputs of the account resolvers.

These pydantic models are the one definition of each field rule (docs/contract.md §3): REST uses
them as request bodies, GraphQL builds them from its input types, so both reject the same input the
same way (422 / BAD_USER_INPUT).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from resolvers.input_base import Input
from resolvers.timezones import check_timezone

INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _http_url(value: str) -> str:
    lowered = value.lower()
    if not lowered.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        raise ValueError("must be an http(s) URL")
    return value


def _key_fits(value: str) -> str:
    # The case-insensitive key is `value.lower()`, stored in 30 characters too; 'İ' (U+0130) is
    # the one letter whose lower case is two code points.
    if len(value.lower()) > 30:
        raise ValueError("must be at most 30 characters once lower-cased")
    return value


def _no_invisible_characters(value: str) -> str:
    # The pattern's `\w` (Unicode, as pydantic's regex engine reads it) admits the zero-width
    # joiner and non-joiner, so "ann" + U+200D would look exactly like "ann" in every list. Format
    # characters (category Cf: zero-width ones, bidi marks and overrides) never make a name
    # readable, only spoofable, so none is allowed.
    if any(unicodedata.category(c) == "Cf" for c in value):
        raise ValueError("must not contain invisible or text-direction characters")
    return value


Username = Annotated[
    str,
    StringConstraints(min_length=3, max_length=30, pattern=r"^[\w.\-]+$", strict=True),
    AfterValidator(_key_fits),
    AfterValidator(_no_invisible_characters),
]
Password = Annotated[str, StringConstraints(min_length=6, max_length=128)]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]
Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(check_timezone)]
InviteCodeText = Annotated[
    str,
    BeforeValidator(_upper),
    StringConstraints(pattern=f"^[{INVITE_ALPHABET}]{{8}}$"),
]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
RedirectTo = Annotated[str, StringConstraints(max_length=2048)]
HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]
CodeType = Literal["signup", "recovery"]


class SignupRequest(Input):
    username: Username
    email: Email
    password: Password
    redirect_to: RedirectTo | None = None
    invite_code: InviteCodeText | None = None


class ResendRequest(Input):
    type: CodeType = "signup"
    email: Email
    redirect_to: RedirectTo | None = None


class VerifyRequest(Input):
    type: CodeType = "signup"
    email: Email
    token: Code
    new_password: Password | None = None
    password: Password | None = Field(
        default=None,
        description="Sign-up only: the password chosen at sign-up. Required when several "
        "sign-ups are pending for the email (409 without it).",
    )

    @model_validator(mode="after")
    def _recovery_needs_password(self) -> VerifyRequest:
        if self.type == "recovery" and self.new_password is None:
            raise ValueError("new_password is required for type 'recovery'")
        return self


class SignInRequest(Input):
    email: Email
    password: Password


class RefreshRequest(Input):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class UpdateMeRequest(Input):
    username: Username | None = None
    avatar_url: HttpUrl | None = None
    bio: Annotated[str, StringConstraints(max_length=200)] | None = None
    timezone: Timezone | None = Field(
        default=None, description="IANA time zone name, e.g. Asia/Shanghai (default UTC)"
    )

    @model_validator(mode="after")
    def _username_not_null(self) -> UpdateMeRequest:
        for name in ("username", "timezone"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class LookupUserRequest(Input):
    email: Email


class SearchUsersRequest(Input):
    query: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CreateInviteCodeRequest(Input):
    max_uses: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    expires_at: datetime | None = None
