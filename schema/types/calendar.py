"""Friends, schedule items and the inbox as GraphQL types (docs/contract.md §4).

Nested objects (owners, senders, friends, subscribers, an invitation's item) resolve through the
`Loaders` each object carries, so a list of N objects costs the same statements as a list of 1.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import date, datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from models import FriendRequest as FriendRequestModel
from models import Friendship as FriendshipModel
from models import InboxMessage as InboxMessageModel
from models.schedule import EDIT
from resolvers.access import VisibleItem
from resolvers.recurrence import all_day_dates
from resolvers.schedule_listing import ItemRow, item_row
from resolvers.subscribers import Subscriber
from schema.loaders import Loaders
from schema.types.users import User


@strawberry.enum
class ScheduleItemStatus(Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@strawberry.enum
class SourceType(Enum):
    MANUAL = "manual"
    AGENT = "agent"


@strawberry.enum
class FriendRequestStatus(Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


@strawberry.enum
class FriendRequestDirection(Enum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


@strawberry.enum
class InboxStatus(Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DISMISSED = "dismissed"


@strawberry.enum
class InboxMessageType(Enum):
    CALENDAR = "calendar"
    FRIEND_REQUEST = "friend_request"


@strawberry.enum
class ScheduleItemChangeKind(Enum):
    UPDATED = "UPDATED"
    DELETED = "DELETED"


async def _user(loaders: Loaders, user_id: uuid.UUID) -> User:
    user = await loaders.users.load(user_id)
    if user is None:  # rows referencing a user are deleted with it (ON DELETE CASCADE)
        raise LookupError(f"user {user_id} is missing")
    return User.of(user)


@strawberry.type
class ScheduleSubscriber:
    user: User
    permission: int
    subscribed_at: datetime = strawberry.field(description="When the share was accepted.")

    @classmethod
    def of(cls, subscriber: Subscriber) -> ScheduleSubscriber:
        return cls(
            user=User.of(subscriber.user),
            permission=subscriber.permission,
            subscribed_at=subscriber.subscribed_at,
        )


@strawberry.type
class ScheduleItem:
    id: strawberry.ID
    title: str
    description: str | None
    start_at: datetime
    end_at: datetime | None
    timezone: str
    metadata: JSON
    status: ScheduleItemStatus
    source_type: SourceType
    permission: int = strawberry.field(description="The caller's bits: view 1, invite 2, edit 4.")
    created_at: datetime
    updated_at: datetime
    all_day: bool = strawberry.field(description="Whole local days: startDate to endDate.")
    start_date: date | None = strawberry.field(description="An all-day item's first day.")
    end_date: date | None = strawberry.field(
        description="The day after an all-day item's last (exclusive)."
    )
    recurrence: str | None = strawberry.field(description="RFC 5545 RRULE, canonical.")
    exdates: list[datetime] = strawberry.field(
        description="Original starts of occurrences left out."
    )
    occurrence_start_at: datetime | None = strawberry.field(
        description="List entries (and one-occurrence edits): this occurrence's start."
    )
    occurrence_end_at: datetime | None
    original_start_at: datetime | None = strawberry.field(
        description="The occurrence's original start: the `occurrence` argument naming it."
    )
    item_id: strawberry.Private[uuid.UUID]
    owner_id: strawberry.Private[uuid.UUID]
    loaders: strawberry.Private[Loaders]
    # Set when the query that found the item also read its owner (lists do): no loader call,
    # and `owner` resolves synchronously (see schema/fast_execution.py).
    owner_user: strawberry.Private[User | None] = None

    @strawberry.field(graphql_type=User)
    def owner(self) -> User | Awaitable[User]:
        if self.owner_user is not None:
            return self.owner_user
        return _user(self.loaders, self.owner_id)

    @strawberry.field(
        description="Users who accepted a share of the item, with their bits. As on REST, "
        "only the owner and subscribers with the edit bit see them all; another viewer sees "
        "only their own share."
    )
    async def subscribers(self) -> list[ScheduleSubscriber]:
        rows = await self.loaders.subscriptions.load(self.item_id)
        if not self.permission & EDIT:
            rows = [row for row in rows if row.user_id == self.loaders.viewer_id]
        users = await self.loaders.users.load_many([row.user_id for row in rows])
        return [
            ScheduleSubscriber(
                user=User.of(user), permission=row.permission, subscribed_at=row.created_at
            )
            for row, user in zip(rows, users, strict=True)
            if user is not None
        ]

    @classmethod
    def of_row(cls, row: ItemRow, loaders: Loaders) -> ScheduleItem:
        dates = all_day_dates(row.all_day, row.start_at, row.end_at, row.timezone)
        return cls(
            id=strawberry.ID(str(row.id)),
            title=row.title,
            description=row.description,
            start_at=row.start_at,
            end_at=row.end_at,
            timezone=row.timezone,
            metadata=JSON(row.metadata),
            status=ScheduleItemStatus(row.status),
            source_type=SourceType(row.source_type),
            permission=row.permission,
            created_at=row.created_at,
            updated_at=row.updated_at,
            all_day=row.all_day,
            start_date=dates[0],
            end_date=dates[1],
            recurrence=row.recurrence,
            exdates=[datetime.fromisoformat(text) for text in row.exdates or ()],
            occurrence_start_at=row.occurrence_start_at,
            occurrence_end_at=row.occurrence_end_at,
            original_start_at=row.original_start_at,
            item_id=row.id,
            owner_id=row.owner_id,
            loaders=loaders,
            owner_user=None
            if row.owner_username is None
            else User(
                id=strawberry.ID(str(row.owner_id)),
                username=row.owner_username,
                avatar_url=row.owner_avatar_url,
                bio=row.owner_bio,
            ),
        )

    @classmethod
    def of(cls, visible: VisibleItem, loaders: Loaders) -> ScheduleItem:
        return cls.of_row(item_row(visible), loaders)


@strawberry.type
class InboxMessage:
    id: strawberry.ID
    message_type: InboxMessageType
    content: str | None
    is_read: bool
    status: InboxStatus
    permission: int = strawberry.field(description="Bits a calendar invitation grants.")
    created_at: datetime
    recipient_id: strawberry.Private[uuid.UUID]
    sender_id: strawberry.Private[uuid.UUID | None]
    schedule_item_id: strawberry.Private[uuid.UUID | None]
    loaders: strawberry.Private[Loaders]

    @strawberry.field
    async def recipient(self) -> User:
        return await _user(self.loaders, self.recipient_id)

    @strawberry.field
    async def sender(self) -> User | None:
        return None if self.sender_id is None else await _user(self.loaders, self.sender_id)

    @strawberry.field(
        description="The item of a calendar invitation (null once deleted); `permission` is "
        "the caller's current bits, 0 while the invitation is pending."
    )
    async def schedule_item(self) -> ScheduleItem | None:
        if self.schedule_item_id is None:
            return None
        visible = await self.loaders.items.load(self.schedule_item_id)
        return None if visible is None else ScheduleItem.of(visible, self.loaders)

    @classmethod
    def of(cls, message: InboxMessageModel, loaders: Loaders) -> InboxMessage:
        return cls(
            id=strawberry.ID(str(message.id)),
            message_type=InboxMessageType(message.message_type),
            content=message.content,
            is_read=message.is_read,
            status=InboxStatus(message.status),
            permission=message.permission,
            created_at=message.created_at,
            recipient_id=message.recipient_id,
            sender_id=message.sender_id,
            schedule_item_id=message.schedule_item_id,
            loaders=loaders,
        )


@strawberry.type
class FriendRequest:
    id: strawberry.ID
    content: str | None
    status: FriendRequestStatus
    created_at: datetime
    updated_at: datetime
    from_user_id: strawberry.Private[uuid.UUID]
    to_user_id: strawberry.Private[uuid.UUID]
    loaders: strawberry.Private[Loaders]

    @strawberry.field(name="from")
    async def from_(self) -> User:
        return await _user(self.loaders, self.from_user_id)

    @strawberry.field
    async def to(self) -> User:
        return await _user(self.loaders, self.to_user_id)

    @classmethod
    def of(cls, request: FriendRequestModel, loaders: Loaders) -> FriendRequest:
        return cls(
            id=strawberry.ID(str(request.id)),
            content=request.content,
            status=FriendRequestStatus(request.status),
            created_at=request.created_at,
            updated_at=request.updated_at,
            from_user_id=request.from_user_id,
            to_user_id=request.to_user_id,
            loaders=loaders,
        )


@strawberry.type
class Friendship:
    id: strawberry.ID
    created_at: datetime
    friend_id: strawberry.Private[uuid.UUID]
    loaders: strawberry.Private[Loaders]

    @strawberry.field
    async def friend(self) -> User:
        return await _user(self.loaders, self.friend_id)

    @classmethod
    def of(cls, friendship: FriendshipModel, viewer_id: uuid.UUID, loaders: Loaders) -> Friendship:
        return cls(
            id=strawberry.ID(str(friendship.id)),
            created_at=friendship.created_at,
            friend_id=friendship.other(viewer_id),
            loaders=loaders,
        )


@strawberry.type
class ShareResult:
    message: str


@strawberry.type
class ScheduleItemChange:
    kind: ScheduleItemChangeKind
    item: ScheduleItem
