"""Validated inputs of friends, schedule items, sharing and the inbox (docs/contract.md §3)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    model_validator,
)

from resolvers.errors import InvalidInput
from resolvers.input_base import Input

METADATA_MAX_BYTES = 16 * 1024
ItemStatus = Literal["active", "completed", "cancelled"]
InboxStatus = Literal["pending", "accepted", "rejected", "dismissed"]


def _iana(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None
    return name


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    try:
        size = len(orjson.dumps(value))
    except TypeError:  # orjson refuses integers beyond 64 bits, as JSON parsers commonly do
        raise ValueError("metadata numbers must fit in 64 bits") from None
    if size > METADATA_MAX_BYTES:
        raise ValueError("metadata is larger than 16 KiB serialized")
    color = value.get("color")
    if color is not None and not (
        isinstance(color, str)
        and len(color) == 7
        and color[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        raise ValueError("metadata.color must be #RRGGBB")
    return value


_DATE_ALONE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_alone(value: Any) -> Any:
    # Pydantic reads "2026-03-01" as a datetime at midnight; a bound written as a date alone
    # means a whole UTC day, so keep it a date.
    if isinstance(value, str) and _DATE_ALONE.fullmatch(value.strip()):
        return date.fromisoformat(value.strip())
    return value


def _representable(value: datetime | date) -> datetime | date:
    # Converting between zones moves a datetime by up to a day; within a day of Python's
    # smallest or largest datetime that would overflow (a 500), so such values are refused.
    # A date too: it becomes a local midnight, and an all-day item or a range ends a day later.
    if not 1 < value.year < 9999:
        raise ValueError("must be between the years 2 and 9998")
    return value


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_iana)]
Moment = Annotated[datetime, AfterValidator(_representable)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=2000)]
RangeBound = Annotated[
    datetime | date, BeforeValidator(_date_alone), AfterValidator(_representable)
]


class SendFriendRequest(Input):
    target_user_id: uuid.UUID
    content: Annotated[str, StringConstraints(max_length=500)] | None = None


def _dates_when_all_day(model: Any) -> None:
    """An all-day item takes dates; a timed one reads a date alone as its midnight."""
    for name in ("start_at", "end_at"):
        value = getattr(model, name)
        if value is None:
            continue
        if model.all_day and isinstance(value, datetime):
            raise ValueError(f"{name}: an all-day item takes a date (YYYY-MM-DD), not a time")
        if not model.all_day and not isinstance(value, datetime):
            object.__setattr__(model, name, datetime.combine(value, datetime.min.time()))


Recurrence = Annotated[str, StringConstraints(min_length=1, max_length=500)]
# Original starts of occurrences left out: datetimes (naive: the item's zone) or dates of an
# all-day item. At most one per day of a long series, in practice.
Exdates = Annotated[list[RangeBound], Field(max_length=1000)]
ItemMoment = Annotated[
    datetime | date, BeforeValidator(_date_alone), AfterValidator(_representable)
]


class CreateScheduleItem(Input):
    title: Title
    description: Description | None = None
    start_at: ItemMoment
    end_at: ItemMoment | None = None
    timezone: TimeZoneName = "UTC"
    metadata: Metadata = Field(default_factory=dict)
    all_day: bool = False
    recurrence: Recurrence | None = None
    exdates: Exdates = Field(default_factory=list)

    @model_validator(mode="after")
    def _all_day_dates(self) -> CreateScheduleItem:
        _dates_when_all_day(self)
        return self


class UpdateScheduleItem(Input):
    """PATCH: only the fields present change; `title`, `start_at`, `timezone`, `metadata` and
    `status` cannot be null."""

    title: Title | None = None
    description: Description | None = None
    start_at: ItemMoment | None = None
    end_at: ItemMoment | None = None
    timezone: TimeZoneName | None = None
    metadata: Metadata | None = None
    status: ItemStatus | None = None
    all_day: bool | None = None
    recurrence: Recurrence | None = None
    exdates: Exdates | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> UpdateScheduleItem:
        for required in ("title", "start_at", "timezone", "metadata", "status", "all_day"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, and only those."""
        return self.model_dump(include=self.model_fields_set)


class OccurrenceChanges(Input):
    """PATCH of one occurrence: the fields an occurrence may have of its own."""

    title: Title | None = None
    description: Description | None = None
    start_at: Moment | None = None
    end_at: Moment | None = None
    metadata: Metadata | None = None
    status: ItemStatus | None = None


_SERIES_ONLY = ("timezone", "all_day", "recurrence", "exdates")


def occurrence_changes(request: UpdateScheduleItem) -> OccurrenceChanges:
    """The PATCH body of one occurrence: what the series alone has (its zone, all-day, rule,
    exdates) cannot differ per occurrence."""
    for name in _SERIES_ONLY:
        if name in request.model_fields_set:
            raise InvalidInput(
                f"{name} belongs to the whole series: leave occurrence out to change it.",
                [{"loc": ["body", name], "msg": "not per occurrence"}],
            )
    sent = request.model_dump(include=request.model_fields_set)
    for name in ("start_at", "end_at"):
        if isinstance(sent.get(name), date) and not isinstance(sent.get(name), datetime):
            raise InvalidInput(
                f"{name}: an occurrence moves to a date and time",
                [{"loc": ["body", name], "msg": "a datetime"}],
            )
    return OccurrenceChanges.model_validate(sent)


class ScheduleRange(Input):
    start_at: RangeBound | None = None
    end_at: RangeBound | None = None


class ShareScheduleItem(Input):
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    permission_view: bool = True
    permission_edit: bool = False
    permission_invite: bool = False


class SubscriberPermissions(Input):
    """A subscriber's bits, set by the item's owner; a field left out keeps its value."""

    permission_view: bool = True
    permission_edit: bool | None = None
    permission_invite: bool | None = None


class AcceptInvitation(Input):
    permission_view: bool = True
    permission_edit: bool = False
    permission_invite: bool = False


class InboxFilter(Input):
    status: InboxStatus | None = None


class CreateCalendarFeed(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = (
        "Runtime API"
    )
