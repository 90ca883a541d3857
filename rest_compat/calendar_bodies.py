"""Response bodies of the friends, schedule-item and inbox routes (snake_case, as the source
document has them). Datetimes are UTC with an explicit offset.

Request bodies are the resolvers' own input models (resolvers/calendar_inputs.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from models import FriendRequest, Friendship, InboxMessage, User
from resolvers.access import VisibleItem
from resolvers.recurrence import all_day_dates
from resolvers.schedule_listing import ItemRow, item_row
from resolvers.subscribers import Subscriber

PERMISSION_BITS = "The caller's permission bits: view 1, invite 2, edit 4 (7 for the owner)."


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class FriendRequestBody(BaseModel):
    id: uuid.UUID
    from_user_id: uuid.UUID
    to_user_id: uuid.UUID
    content: str | None
    status: str = Field(description="pending | accepted | declined | cancelled")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, request: FriendRequest) -> FriendRequestBody:
        return cls(
            id=request.id,
            from_user_id=request.from_user_id,
            to_user_id=request.to_user_id,
            content=request.content,
            status=request.status,
            created_at=utc(request.created_at),
            updated_at=utc(request.updated_at),
        )


class FriendBody(BaseModel):
    id: uuid.UUID = Field(description="The friendship's id")
    friend_id: uuid.UUID = Field(description="The other user's id")
    username: str
    avatar_url: str | None
    bio: str | None
    created_at: datetime = Field(description="When the two became friends")

    @classmethod
    def of(cls, friendship: Friendship, friend: User) -> FriendBody:
        return cls(
            id=friendship.id,
            friend_id=friend.id,
            username=friend.username,
            avatar_url=friend.avatar_url,
            bio=friend.bio,
            created_at=utc(friendship.created_at),
        )


class ScheduleItemBody(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    start_at: datetime
    end_at: datetime | None
    timezone: str
    metadata: dict[str, Any]
    status: str = Field(description="active | completed | cancelled")
    source_type: str = Field(description="manual | agent")
    created_at: datetime
    updated_at: datetime
    owner_id: uuid.UUID
    permission: int = Field(description=PERMISSION_BITS)
    all_day: bool = Field(
        default=False, description="Whole local days: see start_date and end_date."
    )
    start_date: date | None = Field(default=None, description="An all-day item's first day.")
    end_date: date | None = Field(
        default=None, description="The day after an all-day item's last (exclusive)."
    )
    recurrence: str | None = Field(default=None, description="RFC 5545 RRULE, canonical.")
    exdates: list[datetime] = Field(
        default_factory=list, description="Original starts of occurrences left out."
    )
    occurrence_start_at: datetime | None = Field(
        default=None, description="List entries: this occurrence's start."
    )
    occurrence_end_at: datetime | None = Field(
        default=None, description="List entries: this occurrence's end."
    )
    original_start_at: datetime | None = Field(
        default=None,
        description="List entries: the occurrence's original start, the key of ?occurrence=.",
    )

    @classmethod
    def of(cls, visible: VisibleItem) -> ScheduleItemBody:
        return cls.model_validate(_item_fields(item_row(visible)))


def _item_fields(row: ItemRow) -> dict[str, Any]:
    """The REST fields of an item, from the resolvers' view of it: the one list of them, for
    the single answer (validated as ScheduleItemBody) and for the list (straight to JSON)."""
    start_date, end_date = all_day_dates(row.all_day, row.start_at, row.end_at, row.timezone)
    return {
        "id": str(row.id),  # (asyncpg's UUID is not one orjson knows)
        "title": row.title,
        "description": row.description,
        "start_at": utc(row.start_at),
        "end_at": utc_or_none(row.end_at),
        "timezone": row.timezone,
        "metadata": row.metadata,
        "status": row.status,
        "source_type": row.source_type,
        "created_at": utc(row.created_at),
        "updated_at": utc(row.updated_at),
        "owner_id": str(row.owner_id),
        "permission": row.permission,
        "all_day": row.all_day,
        "start_date": start_date,
        "end_date": end_date,
        "recurrence": row.recurrence,
        "exdates": [datetime.fromisoformat(text) for text in row.exdates or ()],
        "occurrence_start_at": utc_or_none(row.occurrence_start_at),
        "occurrence_end_at": utc_or_none(row.occurrence_end_at),
        "original_start_at": utc_or_none(row.original_start_at),
    }


def items_json(rows: list[ItemRow]) -> bytes:
    """A list of items as the JSON of `list[ScheduleItemBody]`, straight from the rows (no
    pydantic model per item: the busiest route): datetimes in UTC with `Z`, as pydantic
    writes them."""
    return orjson.dumps([_item_fields(row) for row in rows], option=orjson.OPT_UTC_Z)


class SubscriberBody(BaseModel):
    user_id: uuid.UUID
    username: str
    avatar_url: str | None
    permission: int = Field(description="The subscriber's bits: view 1, invite 2, edit 4.")
    subscribed_at: datetime = Field(description="When the share was accepted")

    @classmethod
    def of(cls, subscriber: Subscriber) -> SubscriberBody:
        return cls(
            user_id=subscriber.user.id,
            username=subscriber.user.username,
            avatar_url=subscriber.user.avatar_url,
            permission=subscriber.permission,
            subscribed_at=utc(subscriber.subscribed_at),
        )


class ShareResultBody(BaseModel):
    message: str


class InboxMessageBody(BaseModel):
    id: uuid.UUID
    recipient_id: uuid.UUID
    sender_id: uuid.UUID | None
    message_type: str = Field(description="calendar | friend_request")
    schedule_item_id: uuid.UUID | None
    friend_request_id: uuid.UUID | None
    content: str | None
    is_read: bool
    status: str = Field(description="pending | accepted | rejected | dismissed")
    permission: int = Field(
        description="A calendar invitation's granted bits (view 1, invite 2, edit 4); 0 otherwise"
    )
    created_at: datetime

    @classmethod
    def of(cls, message: InboxMessage) -> InboxMessageBody:
        return cls(
            id=message.id,
            recipient_id=message.recipient_id,
            sender_id=message.sender_id,
            message_type=message.message_type,
            schedule_item_id=message.schedule_item_id,
            friend_request_id=message.friend_request_id,
            content=message.content,
            is_read=message.is_read,
            status=message.status,
            permission=message.permission,
            created_at=utc(message.created_at),
        )
