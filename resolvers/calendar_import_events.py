"""The VEVENTs of an iCalendar file read into plain values for the import
(resolvers/calendar_import.py): times with their IANA zone, the rule as text, our X- properties.
Reading checks the shape of each event; the rules of an item are the import's to check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from icalendar import Calendar, Component

from resolvers.calendar_export import METADATA_PROPERTY, STATUS_PROPERTY, TIMEZONE_PROPERTY
from resolvers.errors import InvalidInput

MAX_IMPORT_EVENTS = 1000
UNTITLED = "(no title)"
# Ways of adding occurrences we do not model: refused rather than silently lost.
_UNSUPPORTED = ("RDATE", "EXRULE")


class EventError(Exception):
    """A problem of one event; `import_calendar` names the event in the 422 (`event`: the
    RECURRENCE-ID event at fault, when not the series being checked)."""

    def __init__(self, message: str, event: ParsedEvent | None = None) -> None:
        super().__init__(message)
        self.event = event


def invalid_file(message: str) -> InvalidInput:
    return InvalidInput(f"Invalid iCalendar file: {message}", [{"loc": ["body"], "msg": message}])


@dataclass
class Moment:
    """A DTSTART, DTEND, EXDATE or RECURRENCE-ID value: a date, or a time with its zone."""

    value: datetime | date
    zone: str | None  # IANA name; None for a date or a floating time

    def aware(self, fallback_zone: str) -> datetime:
        assert isinstance(self.value, datetime)
        if self.value.tzinfo is None:
            return self.value.replace(tzinfo=ZoneInfo(self.zone or fallback_zone))
        return self.value


@dataclass
class ParsedEvent:
    index: int  # 0-based position among the file's VEVENTs
    uid: str | None
    recurrence_id: Moment | None
    fields: dict[str, Any]  # CreateScheduleItem's, times as Moment
    status: str
    edits: list[ParsedEvent] = field(default_factory=list)

    @property
    def label(self) -> str:
        uid = f" (UID {self.uid})" if self.uid else ""
        return f"event {self.index + 1}{uid}"


def _zone_of(value: datetime, tzid: str | None) -> str | None:
    """The IANA zone of a parsed time (icalendar maps Windows zone names), None if floating."""
    tz = value.tzinfo
    if tz is None:
        if tzid is not None:  # icalendar leaves a time naive when it knows no such zone
            raise EventError(f"TZID {tzid!r} is not a known time zone")
        return None
    if isinstance(tz, ZoneInfo):
        return tz.key
    if tz.utcoffset(value) == timedelta(0) and tzid is None:
        return "UTC"
    raise EventError(f"TZID {tzid!r} is not a known IANA time zone")


def _moment(prop: Any, name: str) -> Moment:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return Moment(value, _zone_of(value, prop.params.get("TZID")))
    if isinstance(value, date):
        return Moment(value, None)
    raise EventError(f"{name} is not a DATE or DATE-TIME")


def _single(event: Component, name: str) -> Any:
    prop = event.get(name)
    if isinstance(prop, list):
        raise EventError(f"{name} appears more than once")
    return prop


def _text(event: Component, name: str) -> str | None:
    prop = _single(event, name)
    return None if prop is None else str(prop)


def _exdates(event: Component) -> list[Moment]:
    found = event.get("EXDATE")
    if found is None:
        return []
    lists = found if isinstance(found, list) else [found]
    return [_moment(value, "EXDATE") for group in lists for value in group.dts]


def _status(event: Component) -> str:
    ours = (_text(event, STATUS_PROPERTY) or "").upper()
    if ours in ("ACTIVE", "COMPLETED", "CANCELLED"):
        return ours.lower()
    return "cancelled" if (_text(event, "STATUS") or "").upper() == "CANCELLED" else "active"


def _metadata(event: Component) -> dict[str, Any]:
    text = _text(event, METADATA_PROPERTY)
    if text is None:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise EventError(f"{METADATA_PROPERTY} is not JSON") from None
    if not isinstance(value, dict):
        raise EventError(f"{METADATA_PROPERTY} is not a JSON object")
    return value


def _end(event: Component, start: Moment) -> Moment | None:
    end_prop = _single(event, "DTEND")
    if end_prop is not None:
        end = _moment(end_prop, "DTEND")
        if isinstance(end.value, datetime) != isinstance(start.value, datetime):
            raise EventError("DTSTART and DTEND must both be dates or both be date-times")
        return end
    duration_prop = _single(event, "DURATION")
    if duration_prop is None:
        return None
    duration = getattr(duration_prop, "dt", None)
    if not isinstance(duration, timedelta) or duration < timedelta(0):
        raise EventError("DURATION is not a positive duration")
    # Added on the wall clock: a day stays a day across a DST change (RFC 5545 §3.3.6).
    return Moment(start.value + duration, start.zone)


def _parse_event(event: Component, index: int) -> ParsedEvent:
    uid = _text(event, "UID")
    try:
        if event.errors:
            name, message = event.errors[0]
            raise EventError(f"{name}: {message}")
        for name in _UNSUPPORTED:
            if name in event:
                raise EventError(f"{name} is not supported (only RRULE and EXDATE)")
        start_prop = _single(event, "DTSTART")
        if start_prop is None:
            raise EventError("DTSTART is required")
        start = _moment(start_prop, "DTSTART")
        rule = _single(event, "RRULE")
        recurrence_id_prop = _single(event, "RECURRENCE-ID")
        if recurrence_id_prop is not None and recurrence_id_prop.params.get("RANGE"):
            raise EventError("RECURRENCE-ID with RANGE is not supported")
        fields = {
            "title": (_text(event, "SUMMARY") or "").strip() or UNTITLED,
            "description": _text(event, "DESCRIPTION") or None,
            "start": start,
            "end": _end(event, start),
            "all_day": not isinstance(start.value, datetime),
            "timezone": _text(event, TIMEZONE_PROPERTY),
            "recurrence": None if rule is None else rule.to_ical().decode(),
            "exdates": _exdates(event),
            "metadata": _metadata(event),
        }
        return ParsedEvent(
            index=index,
            uid=uid,
            recurrence_id=(
                None if recurrence_id_prop is None else _moment(recurrence_id_prop, "RECURRENCE-ID")
            ),
            fields=fields,
            status=_status(event),
        )
    except EventError as error:
        raise InvalidInput(
            f"Invalid iCalendar file: event {index + 1}{f' (UID {uid})' if uid else ''}: {error}",
            [{"loc": ["body", "VEVENT", index], "msg": str(error)}],
        ) from None


def located(event: ParsedEvent, message: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid iCalendar file: {event.label}: {message}",
        [{"loc": ["body", "VEVENT", event.index], "msg": message}],
    )


def read_events(text: str) -> list[ParsedEvent]:
    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except ValueError as error:
        raise invalid_file(str(error)) from None
    if len(calendars) != 1 or calendars[0].name != "VCALENDAR":
        raise invalid_file("the file must hold one VCALENDAR")
    found = [c for c in calendars[0].subcomponents if c.name == "VEVENT"]
    if len(found) > MAX_IMPORT_EVENTS:
        raise invalid_file(f"more than {MAX_IMPORT_EVENTS} events")
    return [_parse_event(event, index) for index, event in enumerate(found)]
