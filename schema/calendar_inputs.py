"""GraphQL inputs of the calendar domain; validated by resolvers/calendar_inputs.py."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from schema.types.calendar import ScheduleItemStatus


@strawberry.input
class SendFriendRequestInput:
    target_user_id: strawberry.ID
    content: str | None = None


@strawberry.input
class CreateScheduleItemInput:
    title: str
    start_at: datetime = strawberry.field(
        description="With an offset, or without one to be read in `timezone`."
    )
    description: str | None = None
    end_at: datetime | None = None
    timezone: str = "UTC"
    metadata: JSON | None = strawberry.UNSET


@strawberry.input
class UpdateScheduleItemInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    start_at: datetime | None = strawberry.UNSET
    end_at: datetime | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    status: ScheduleItemStatus | None = strawberry.UNSET


@strawberry.input
class ShareScheduleItemInput:
    email: str
    permission_view: bool = True
    permission_edit: bool = False
    permission_invite: bool = False


@strawberry.input
class AcceptInboxMessageInput:
    permission_view: bool = True
    permission_edit: bool = False
    permission_invite: bool = False
