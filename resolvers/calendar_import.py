"""Creating schedule items from an RFC 5545 iCalendar file (docs/contract.md §6, "iCalendar
export, feeds and import").

Every VEVENT is checked first, with the rules of a create (resolvers/schedule.py, RRULEs
through resolvers/recurrence.py); only when all of them pass are the items written, in one
transaction. A bad file is a 422 naming the offending event (its position and UID), and
nothing of it is stored. An event with a RECURRENCE-ID becomes an occurrence edited alone of
the series with its UID. Each import creates new items: UIDs are not kept, so importing a file
twice gives every item twice.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from tortoise.transactions import in_transaction

from models import ScheduleItem, User
from resolvers import recurrence
from resolvers.calendar_import_events import (
    MAX_IMPORT_EVENTS,
    EventError,
    Moment,
    ParsedEvent,
    invalid_file,
    located,
    read_events,
)
from resolvers.calendar_inputs import CreateScheduleItem, OccurrenceChanges
from resolvers.errors import DomainError, PayloadTooLarge
from resolvers.schedule import new_item_columns
from resolvers.viewer import Viewer

__all__ = ["MAX_IMPORT_BYTES", "MAX_IMPORT_COUNTED", "MAX_IMPORT_EVENTS", "import_calendar"]

MAX_IMPORT_BYTES = 1 << 20
# A rule with COUNT is expanded to its end when its item is stored (the list query's bound,
# resolvers/recurrence.span_end): about 2 µs an occurrence. One file may ask for that many.
MAX_IMPORT_COUNTED = 50_000
_COUNT = re.compile(r"(?:^|;)COUNT=(\d+)", re.IGNORECASE)


def _first_issue(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "event"
    return f"{where}: {first['msg']}"


def _item_zone(event: ParsedEvent, default_zone: str) -> str:
    """An all-day item's zone: ours (X-RUNTIME-TIMEZONE) if valid; a timed one's: DTSTART's."""
    start: Moment = event.fields["start"]
    if start.zone is not None:
        return start.zone
    named = event.fields["timezone"]
    if named:
        try:
            ZoneInfo(named)
            return str(named)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default_zone


def _request(event: ParsedEvent, zone: str) -> CreateScheduleItem:
    fields = event.fields
    start: Moment = fields["start"]
    end: Moment | None = fields["end"]
    all_day = fields["all_day"]

    def value(moment: Moment) -> datetime | date:
        return moment.value if all_day else moment.aware(zone)

    exdates = [
        m.value if not isinstance(m.value, datetime) else m.aware(zone) for m in fields["exdates"]
    ]
    try:
        return CreateScheduleItem.model_validate(
            {
                "title": fields["title"],
                "description": fields["description"],
                "start_at": value(start),
                "end_at": None if end is None else value(end),
                "timezone": zone,
                "metadata": fields["metadata"],
                "all_day": all_day,
                "recurrence": fields["recurrence"],
                "exdates": exdates,
            }
        )
    except ValidationError as error:
        raise EventError(_first_issue(error)) from None


def _as_instant(moment: Moment, zone: str) -> datetime:
    """A RECURRENCE-ID or an edited occurrence's time as an instant; dates are local midnight
    in the series' zone, floating times are read in it."""
    if isinstance(moment.value, datetime):
        return moment.aware(zone)
    return datetime.combine(moment.value, time.min, tzinfo=ZoneInfo(zone))


def _override(
    series: recurrence.Series, master: ParsedEvent, edit: ParsedEvent
) -> tuple[str, dict[str, Any]]:
    """The stored override (resolvers/schedule.py's shape) of one RECURRENCE-ID event."""
    zone = series.timezone
    assert edit.recurrence_id is not None
    original = _as_instant(edit.recurrence_id, zone)
    if not recurrence.has_occurrence(series, original):
        raise EventError(f"RECURRENCE-ID {original.isoformat()} is not an occurrence")
    start = _as_instant(edit.fields["start"], zone)
    end_moment: Moment | None = edit.fields["end"]
    if end_moment is not None:
        end: datetime | None = _as_instant(end_moment, zone)
    elif series.end_at is None:
        end = None
    else:
        end = start + (series.end_at - series.start_at)
    if end is not None and end == start and series.end_at is None:
        end = None  # our export writes DTEND = DTSTART for an occurrence of an item without end
    if start < series.start_at:
        raise EventError("an occurrence cannot move before the series' first start")
    if end is not None and end < start:
        raise EventError("DTEND is before DTSTART")
    changes: dict[str, Any] = {}
    mine, theirs = edit.fields, master.fields
    for name in ("title", "description", "metadata"):
        if mine[name] != theirs[name]:
            changes[name] = mine[name]
    if edit.status != master.status:
        changes["status"] = edit.status
    try:  # the limits of a PATCH of one occurrence
        OccurrenceChanges.model_validate({**changes, "start_at": start, "end_at": end})
    except ValidationError as error:
        raise EventError(_first_issue(error)) from None
    changes["start_at"] = start.isoformat()
    changes["end_at"] = None if end is None else end.isoformat()
    return recurrence.occurrence_key(original), changes


def _columns(master: ParsedEvent, default_zone: str) -> dict[str, Any]:
    """The checked columns of one series with its edited occurrences."""
    request = _request(master, _item_zone(master, default_zone))
    columns = new_item_columns(request, strict_exdates=False)
    if not master.edits:
        return columns
    if columns["recurrence"] is None:
        raise EventError("RECURRENCE-ID names an event without RRULE", master.edits[0])
    series = recurrence.Series.of_columns(
        start_at=columns["start_at"],
        end_at=columns["end_at"],
        timezone=columns["timezone"],
        all_day=columns["all_day"],
        recurrence=columns["recurrence"],
        exdates=columns["exdates"],
        overrides=None,
    )
    overrides: dict[str, dict[str, Any]] = {}
    for edit in master.edits:
        try:
            key, values = _override(series, master, edit)
        except EventError as error:
            raise EventError(str(error), edit) from None
        if key in overrides:
            raise EventError("a second event for the same RECURRENCE-ID", edit)
        overrides[key] = values
    return new_item_columns(request, overrides=overrides, strict_exdates=False)


def _series_of(events: list[ParsedEvent]) -> list[ParsedEvent]:
    """The events that become items, each with its RECURRENCE-ID events attached."""
    masters: dict[str, ParsedEvent] = {}
    ordered: list[ParsedEvent] = []
    for event in events:
        if event.recurrence_id is not None:
            continue
        if event.uid is not None:
            if event.uid in masters:
                raise located(event, "another event has the same UID")
            masters[event.uid] = event
        ordered.append(event)
    for event in events:
        if event.recurrence_id is None:
            continue
        master = masters.get(event.uid or "")
        if master is None:
            raise located(event, "RECURRENCE-ID names no series of this file (by UID)")
        master.edits.append(event)
    return ordered


def _checked(event: ParsedEvent, default_zone: str) -> dict[str, Any]:
    try:
        return _columns(event, default_zone)
    except EventError as error:
        raise located(error.event or event, str(error)) from None
    except DomainError as error:  # a rule of a create (InvalidInput, BadRequest)
        raise located(event, error.detail) from None
    except OverflowError:  # a date at the very edge of the calendar, moved across zones
        raise located(event, "a date or time is out of range") from None


def _decoded(body: bytes | str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"An iCalendar import is at most {MAX_IMPORT_BYTES} bytes.")
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid_file("the file is not UTF-8 text") from None


def _counted(series: list[ParsedEvent]) -> None:
    total = sum(
        int(match.group(1))
        for event in series
        if event.fields["recurrence"] and (match := _COUNT.search(event.fields["recurrence"]))
    )
    if total > MAX_IMPORT_COUNTED:
        raise invalid_file(
            f"the rules' COUNTs add up to more than {MAX_IMPORT_COUNTED} occurrences"
        )


def _checked_file(text: str, default_zone: str) -> list[tuple[ParsedEvent, dict[str, Any]]]:
    """Every series of the file with its checked columns (pure: no database)."""
    series = _series_of(read_events(text))
    _counted(series)
    return [(event, _checked(event, default_zone)) for event in series]


async def import_calendar(viewer: Viewer, body: bytes | str) -> list[uuid.UUID]:
    """Create the file's items for the caller (all or none); their ids in file order.
    Floating times and all-day events without our zone are read in the caller's zone."""
    text = _decoded(body)
    user = await User.get(id=viewer.user_id)
    # Parsing and checking a large file is CPU work of up to a second: off the event loop.
    checked = await asyncio.to_thread(_checked_file, text, user.timezone)
    items = [
        ScheduleItem(owner_id=viewer.user_id, source_type="manual", status=event.status, **columns)
        for event, columns in checked
    ]
    async with in_transaction():
        for item in items:
            await item.save()
    return [item.id for item in items]
