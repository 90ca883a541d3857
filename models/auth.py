from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

# Open sign-up claims one email may hold at once; a request for one more is refused (429).
MAX_CLAIMS_PER_EMAIL = 5

if TYPE_CHECKING:
    from models.users import User


class PendingSignup(Model):
    # One claim on an unconfirmed email: a (username, password) someone asked to sign up with.
    # An email holds up to MAX_CLAIMS_PER_EMAIL of them, one per `slot`, so that the database,
    # not a check in Python, bounds them under concurrent requests. Confirming the email's code
    # turns one claim into a `User` and discards the others.

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    email_key = fields.CharField(max_length=254)
    slot = fields.SmallIntField()  # 0 .. MAX_CLAIMS_PER_EMAIL - 1
    email = fields.CharField(max_length=254)
    username = fields.CharField(max_length=30)
    username_key = fields.CharField(max_length=30)
    password_hash = fields.CharField(max_length=255)
    invite_code = fields.CharField(max_length=8, null=True)
    # The window of the email's latest sign-up code: every code issued for the email moves
    # the expiry of all its open claims to it.
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "pending_signups"
        unique_together = (("email_key", "slot"),)
        constraints = (
            CheckConstraint(
                check=f"slot >= 0 AND slot < {MAX_CLAIMS_PER_EMAIL}", name="pending_signup_slot"
            ),
        )


class VerificationCode(Model):
    # The one live code per email and purpose; issuing a new one overwrites (voids) the old.

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    email_key = fields.CharField(max_length=254)
    purpose = fields.CharField(max_length=16)  # signup | recovery
    code_hash = fields.CharField(max_length=64)
    attempts = fields.IntField(default=0)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "verification_codes"
        unique_together = (("email_key", "purpose"),)


class AuthSession(Model):
    # A sign-in; its id is the access token's `sid`. Revoking it rejects those tokens at once.

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    if TYPE_CHECKING:
        user_id: uuid.UUID

    class Meta:
        table = "auth_sessions"


class RefreshToken(Model):
    # One link of a session's rotation chain, stored only as a SHA-256 of the token.

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    session: fields.ForeignKeyRelation[AuthSession] = fields.ForeignKeyField(
        "models.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    if TYPE_CHECKING:
        session_id: uuid.UUID
    created_at = fields.DatetimeField(auto_now_add=True)
    rotated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"
