from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.friends import FriendRequest
    from models.schedule import ScheduleItem
    from models.users import User


class InboxMessage(Model):
    # A calendar invitation (with the permission bits it grants) or a friend request.
    # `open_invitation` holds "item:recipient" while a calendar invitation is pending, so the
    # database keeps one pending invitation per item and recipient.
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    recipient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="inbox_messages", on_delete=fields.CASCADE
    )
    sender: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sent_messages", null=True, on_delete=fields.SET_NULL
    )
    message_type = fields.CharField(max_length=16)  # calendar | friend_request
    schedule_item: fields.ForeignKeyNullableRelation[ScheduleItem] = fields.ForeignKeyField(
        "models.ScheduleItem", related_name="invitations", null=True, on_delete=fields.CASCADE
    )
    friend_request: fields.ForeignKeyNullableRelation[FriendRequest] = fields.ForeignKeyField(
        "models.FriendRequest", related_name="messages", null=True, on_delete=fields.CASCADE
    )
    content = fields.CharField(max_length=1000, null=True)
    permission = fields.IntField(default=0)
    is_read = fields.BooleanField(default=False)
    status = fields.CharField(max_length=16, default="pending")
    open_invitation = fields.CharField(max_length=80, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    if TYPE_CHECKING:
        recipient_id: uuid.UUID
        sender_id: uuid.UUID | None
        schedule_item_id: uuid.UUID | None
        friend_request_id: uuid.UUID | None

    class Meta:
        table = "inbox_messages"
        indexes = (("recipient_id", "created_at"),)
