"""A user's visible schedule items as RFC 5545 iCalendar text (docs/contract.md §6, "iCalendar
export, feeds and import").

One VEVENT per item (UID `<item id>@runtime-api`) with its RRULE and EXDATEs, and one more per
occurrence edited alone, named by RECURRENCE-ID. Times carry the item's TZID, with a VTIMEZONE
for each zone used, so that a calendar app expands a series on the same wall clock as our list
(resolvers/recurrence.py); all-day items are VALUE=DATE. What iCalendar has no property for
(a completed status, metadata, an all-day item's zone) travels in X- properties, which
resolvers/calendar_import.py reads back.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson
from icalendar import Calendar, Event, Timezone, vRecur

from models import User
from resolvers import recurrence
from resolvers.calendar_inputs import ScheduleRange
from resolvers.schedule import range_bounds, series_of
from resolvers.schedule_listing import ItemRow, list_item_rows
from resolvers.viewer import Viewer

PRODID = "-//Runtime API//Schedule//EN"
UID_SUFFIX = "@runtime-api"
MEDIA_TYPE = "text/calendar; charset=utf-8"
# Items in one export; a caller with more gets the ones starting latest (a range narrows it).
MAX_EXPORT_ITEMS = 5000
# iCalendar's STATUS has no "completed" for a VEVENT: CONFIRMED, plus ours in this property.
STATUS_PROPERTY = "X-RUNTIME-STATUS"
METADATA_PROPERTY = "X-RUNTIME-METADATA"
# A VALUE=DATE event has no zone, but our all-day item spans local days of one.
TIMEZONE_PROPERTY = "X-RUNTIME-TIMEZONE"
STATUS_TO_ICAL = {"active": "CONFIRMED", "completed": "CONFIRMED", "cancelled": "CANCELLED"}
# The span each VTIMEZONE describes (apps that know the TZID use their own rules anyway).
_VTIMEZONE_FIRST = date(1970, 1, 1)
_VTIMEZONE_LAST = date(2100, 1, 1)


class Export(NamedTuple):
    text: str
    truncated: bool  # the caller sees more than MAX_EXPORT_ITEMS items


def item_uid(item_id: uuid.UUID) -> str:
    return f"{item_id}{UID_SUFFIX}"


@functools.lru_cache(maxsize=128)
def _vtimezone(name: str) -> Timezone:
    # Built once per zone and process: the same component object is only ever serialized.
    return Timezone.from_tzid(name, first_date=_VTIMEZONE_FIRST, last_date=_VTIMEZONE_LAST)


def _at_midnight(value: datetime, zone: ZoneInfo) -> bool:
    return value.astimezone(zone).time() == time.min


def _moment(value: datetime, zone: ZoneInfo, as_date: bool) -> datetime | date:
    """An instant as iCalendar writes it for this item: a local date, or a local time."""
    local = value.astimezone(zone)
    return local.date() if as_date else local


def _add_common(event: Event, row: ItemRow, changes: Mapping[str, Any]) -> None:
    title = changes.get("title", row.title)
    description = changes.get("description", row.description)
    status = changes.get("status", row.status)
    metadata = changes.get("metadata", row.metadata)
    event.add("uid", item_uid(row.id))
    event.add("dtstamp", row.updated_at.astimezone(UTC))
    event.add("summary", title)
    if description:
        event.add("description", description)
    event.add("status", STATUS_TO_ICAL.get(status, "CONFIRMED"))
    if status == "completed":
        event.add(STATUS_PROPERTY, "COMPLETED")
    if metadata:
        event.add(METADATA_PROPERTY, orjson.dumps(metadata).decode())
    if row.all_day:
        event.add(TIMEZONE_PROPERTY, row.timezone)


def _master(row: ItemRow, zone: ZoneInfo) -> Event:
    event = Event()
    _add_common(event, row, {})
    event.add("dtstart", _moment(row.start_at, zone, row.all_day))
    if row.end_at is not None:
        event.add("dtend", _moment(row.end_at, zone, row.all_day))
    if row.recurrence is not None:
        event.add("rrule", vRecur.from_ical(row.recurrence))
    if row.exdates:
        left_out = [
            _moment(datetime.fromisoformat(text), zone, row.all_day) for text in row.exdates
        ]
        event.add("exdate", left_out)
    return event


def _edited(
    row: ItemRow, zone: ZoneInfo, original: datetime, override: recurrence.Override
) -> Event:
    """One occurrence edited alone. DTEND is always explicit: without it an app would give the
    occurrence no length (RFC 5545 §3.6.1) instead of the series' one."""
    event = Event()
    _add_common(event, row, override.changes)
    event.add("recurrence-id", _moment(original, zone, row.all_day))
    end = override.end_at if override.end_at is not None else override.start_at
    # An edited occurrence of an all-day series moves to times (resolvers/schedule.py); it
    # stays dates when both still fall on local midnights.
    as_date = (
        row.all_day
        and _at_midnight(override.start_at, zone)
        and _at_midnight(end, zone)
        and end > override.start_at
    )
    event.add("dtstart", _moment(override.start_at, zone, as_date))
    event.add("dtend", _moment(end, zone, as_date))
    return event


def item_events(row: ItemRow) -> list[Event]:
    """The VEVENTs of one item: the item, then its edited occurrences by original start."""
    zone = ZoneInfo(row.timezone)
    events = [_master(row, zone)]
    if row.recurrence is None or not row.overrides:
        return events
    series = series_of(row)
    for original in sorted(series.overrides):
        if original not in series.exdates:  # left out after it was edited: gone
            events.append(_edited(row, zone, original, series.overrides[original]))
    return events


def build_calendar(rows: list[ItemRow], name: str) -> str:
    """The VCALENDAR of these items (pure: no database)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    zones = sorted({row.timezone for row in rows} - {"UTC", "Etc/UTC"})
    for zone in zones:
        calendar.add_component(_vtimezone(zone))
    for row in rows:
        for event in item_events(row):
            calendar.add_component(event)
    text: str = calendar.to_ical().decode()
    return text


async def export_for_user(
    user_id: uuid.UUID,
    name: str,
    range_start: datetime | None = None,
    range_end: datetime | None = None,
) -> Export:
    """Own items and accepted shares, not deleted, whose occurrences overlap the range (no
    range: all of them), each whole: a series is exported with all its occurrences."""
    rows = await list_item_rows(user_id, range_start, range_end)
    truncated = len(rows) > MAX_EXPORT_ITEMS
    if truncated:
        rows = rows[-MAX_EXPORT_ITEMS:]  # ordered by start: keep the latest
    # Building is CPU work (about half a millisecond an item): off the event loop.
    return Export(await asyncio.to_thread(build_calendar, rows, name), truncated)


async def export_calendar(viewer: Viewer, request: ScheduleRange) -> Export:
    """The caller's calendar, named after them."""
    range_start, range_end = range_bounds(request)
    user = await User.get(id=viewer.user_id)
    name = f"{user.username} (Runtime API)"
    return await export_for_user(viewer.user_id, name, range_start, range_end)
