"""GraphQL inputs of the calendar domain; validated by resolvers/calendar_inputs.py."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry
from pydantic.alias_generators import to_camel
from strawberry.scalars import JSON

from resolvers.errors import InvalidInput
from schema.types.calendar import ScheduleItemStatus


@strawberry.input
class SendFriendRequestInput:
    target_user_id: strawberry.ID
    content: str | None = None


@strawberry.input
class CreateScheduleItemInput:
    title: str
    start_at: datetime | None = strawberry.field(
        default=None,
        description="With an offset, or without one to be read in `timezone`. Exactly one of "
        "startAt and startDate (an all-day item's).",
    )
    description: str | None = None
    end_at: datetime | None = None
    timezone: str = "UTC"
    metadata: JSON | None = strawberry.UNSET
    all_day: bool = False
    start_date: date | None = strawberry.field(
        default=None, description="An all-day item's first day."
    )
    end_date: date | None = strawberry.field(
        default=None, description="The day after an all-day item's last (exclusive)."
    )
    recurrence: str | None = strawberry.field(
        default=None, description="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10."
    )
    exdates: list[datetime] | None = strawberry.field(
        default=strawberry.UNSET, description="Original starts of occurrences left out."
    )


@strawberry.input
class UpdateScheduleItemInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    start_at: datetime | None = strawberry.UNSET
    end_at: datetime | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    status: ScheduleItemStatus | None = strawberry.UNSET
    all_day: bool | None = strawberry.UNSET
    start_date: date | None = strawberry.UNSET
    end_date: date | None = strawberry.UNSET
    recurrence: str | None = strawberry.UNSET
    exdates: list[datetime] | None = strawberry.UNSET


@strawberry.input
class ShareScheduleItemInput:
    email: str
    permission_view: bool = True
    permission_edit: bool = False
    permission_invite: bool = False


@strawberry.input(description="A subscriber's bits; a field left out keeps its value.")
class UpdateScheduleSubscriberInput:
    permission_view: bool = True
    permission_edit: bool | None = None
    permission_invite: bool | None = None


@strawberry.input
class AcceptInboxMessageInput:
    permission_view: bool = True
    permission_edit: bool = False
    permission_invite: bool = False


def item_values(source: object) -> dict[str, Any]:
    """The input's fields under the resolver's names: `startDate`/`endDate` are the dates of an
    all-day item, given in place of `startAt`/`endAt`."""
    values = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in vars(source).items()
        if value is not strawberry.UNSET
    }
    for day, moment in (("start_date", "start_at"), ("end_date", "end_at")):
        if day in values and values[day] is None:  # null: not given (use startAt/endAt)
            del values[day]
        if day in values:
            if values.get(moment) is not None:
                raise InvalidInput(
                    f"Give {to_camel(moment)} or {to_camel(day)}, not both.",
                    [{"loc": ["input", to_camel(day)], "msg": "not with " + to_camel(moment)}],
                )
            values[moment] = values.pop(day)
    return values
