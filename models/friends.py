from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.users import User


def pair_key(a: uuid.UUID, b: uuid.UUID) -> str:
    """The same key for (a, b) and (b, a): one friendship or open request per pair of users."""
    low, high = sorted((str(a), str(b)))
    return f"{low}:{high}"


class FriendRequest(Model):
    # `open_pair` holds the pair key while the request is pending and NULL afterwards: its
    # unique constraint lets the database itself refuse a second open request between two
    # users, in either direction (NULLs never collide, on PostgreSQL and SQLite alike).
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    from_user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="friend_requests_sent", on_delete=fields.CASCADE
    )
    to_user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="friend_requests_received", on_delete=fields.CASCADE
    )
    content = fields.CharField(max_length=500, null=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    open_pair = fields.CharField(max_length=80, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    if TYPE_CHECKING:
        from_user_id: uuid.UUID
        to_user_id: uuid.UUID

    class Meta:
        table = "friend_requests"
        indexes = (("to_user_id", "status", "created_at"), ("from_user_id", "status", "created_at"))


class Friendship(Model):
    # One row per pair, users stored in a fixed order so the pair is unique in the database.
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    user_low: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="friendships_low", on_delete=fields.CASCADE
    )
    user_high: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="friendships_high", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    if TYPE_CHECKING:
        user_low_id: uuid.UUID
        user_high_id: uuid.UUID

    class Meta:
        table = "friendships"
        unique_together = (("user_low_id", "user_high_id"),)
        indexes = (("user_high_id",),)

    def other(self, user_id: uuid.UUID) -> uuid.UUID:
        return self.user_high_id if self.user_low_id == user_id else self.user_low_id
