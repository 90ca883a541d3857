from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.users import User

VIEW, INVITE, EDIT = 1, 2, 4
ALL_PERMISSIONS = VIEW | INVITE | EDIT


class ScheduleItem(Model):
    # Times are stored in UTC; `timezone` is the IANA zone the item was written in.
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="schedule_items", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=255)
    description = fields.TextField(null=True)
    start_at = fields.DatetimeField()
    end_at = fields.DatetimeField(null=True)
    timezone = fields.CharField(max_length=64, default="UTC")
    # An all-day item runs from local midnight of its first day to local midnight after its
    # last, in `timezone` (start_at/end_at hold those instants).
    all_day = fields.BooleanField(default=False, db_default=False)
    # A recurring item: its RRULE (canonical, resolvers/recurrence.py), the original starts of
    # occurrences left out (ISO UTC), and occurrences edited alone (original start → changes).
    recurrence = fields.CharField(max_length=500, null=True)
    exdates: list[str] | None = fields.JSONField(null=True)
    overrides: dict[str, dict[str, Any]] | None = fields.JSONField(null=True)
    # Of a recurring item: an instant no occurrence runs past, NULL when it never ends. The list
    # query's range condition reads it (the item's own start_at/end_at are its first occurrence).
    series_end_at = fields.DatetimeField(null=True)
    metadata: dict[str, Any] = fields.JSONField(default=dict)
    status = fields.CharField(max_length=16, default="active")
    source_type = fields.CharField(max_length=16, default="manual")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True)
    if TYPE_CHECKING:
        owner_id: uuid.UUID

    class Meta:
        table = "schedule_items"
        indexes = (("owner_id", "start_at"),)


class ScheduleSubscription(Model):
    # An accepted share: `user` sees the item with the permission bits (view 1, invite 2, edit 4).
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    item: fields.ForeignKeyRelation[ScheduleItem] = fields.ForeignKeyField(
        "models.ScheduleItem", related_name="subscriptions", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="schedule_subscriptions", on_delete=fields.CASCADE
    )
    permission = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    if TYPE_CHECKING:
        item_id: uuid.UUID
        user_id: uuid.UUID

    class Meta:
        table = "schedule_subscriptions"
        unique_together = (("item_id", "user_id"),)
        indexes = (("user_id",),)
