from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.users import User

# Secret feed URLs one user may hold at once (docs/contract.md §6, "iCalendar export, feeds and
# import"); one more is 409.
MAX_FEEDS_PER_USER = 20


class CalendarFeed(Model):
    # A secret URL a calendar app polls without a bearer header. Only the SHA-256 of its token
    # is kept: a copy of the database does not hand out working feed URLs. Revoking deletes
    # the row.
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="calendar_feeds", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    if TYPE_CHECKING:
        user_id: uuid.UUID

    class Meta:
        table = "calendar_feeds"
