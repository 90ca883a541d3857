from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model


class User(Model):
    # A confirmed account. Sign-ups waiting for their code live in `PendingSignup`.
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    username = fields.CharField(max_length=30)
    # Lower-cased copies carry the case-insensitive uniqueness in the database itself.
    username_key = fields.CharField(max_length=30, unique=True)
    email = fields.CharField(max_length=254)
    email_key = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharField(max_length=20, default="authenticated")
    avatar_url = fields.CharField(max_length=2048, null=True)
    bio = fields.CharField(max_length=200, null=True)
    # An IANA zone name (validated with zoneinfo when set): the agent reads the user's "today",
    # "tomorrow" and "at 3 pm" in it unless a run names another zone.
    # A database default too, so that rows written outside the ORM (the CLI, imports) get UTC.
    timezone = fields.CharField(max_length=64, default="UTC", db_default="UTC")
    created_at = fields.DatetimeField(auto_now_add=True)
    email_confirmed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"
