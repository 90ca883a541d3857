"""Schedule items: create, range query, get, partial update, soft delete (docs/contract.md §3),
and recurring and all-day items (§6, "Recurring and all-day items").

Datetimes without an offset are read in the item's IANA time zone; everything is stored and
returned in UTC. An all-day item takes dates and spans whole local days. A recurring item is
one row whose occurrences are computed when listed (resolvers/recurrence.py); one occurrence is
changed by an override or left out by an exdate. Changes are published so that
`scheduleItemChanged` subscribers hear them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from infra.services import Services
from models import InboxMessage, ScheduleItem
from models.schedule import ALL_PERMISSIONS, EDIT
from resolvers import events, recurrence, rrules
from resolvers.access import VisibleItem, item_for, owned_item, visible_item
from resolvers.calendar_inputs import (
    CreateScheduleItem,
    OccurrenceChanges,
    ScheduleRange,
    UpdateScheduleItem,
)
from resolvers.errors import BadRequest, InvalidInput, NotFound
from resolvers.schedule_listing import ItemRow, list_item_rows
from resolvers.viewer import Viewer

END_BEFORE_START = "end_at must not be before start_at."
ALL_DAY_END = "end_at of an all-day item is exclusive: at least the day after start_at."
# Occurrences of recurring items in one list answer; a range holding more ends at the last one
# kept, like a page (docs/contract.md §6).
MAX_OCCURRENCES = 1000
# What a PATCH of a whole series may leave stale: occurrences named by their original start.
_TIMING = ("start_at", "end_at", "timezone", "all_day", "recurrence")


def to_utc(value: datetime, zone: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


def _bound(value: datetime | date | None, *, end: bool) -> datetime | None:
    """A date alone is that UTC day's start, or for an end bound the next day's start."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_utc(value, "UTC")
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _invalid(field: str, message: str, *loc: str | int) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", [{"loc": ["body", field, *loc], "msg": message}])


def _instant(value: datetime | date, zone: str) -> datetime:
    """A datetime (naive: in `zone`) or a date (its local midnight) as a UTC instant."""
    if isinstance(value, datetime):
        return to_utc(value, zone)
    return datetime.combine(value, time.min, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _times(
    start: datetime | date, end: datetime | date | None, zone: str, all_day: bool
) -> tuple[datetime, datetime | None]:
    if all_day:
        for name, value in (("start_at", start), ("end_at", end)):
            if isinstance(value, datetime):
                raise _invalid(name, "an all-day item takes a date (YYYY-MM-DD), not a time")
        assert isinstance(start, date) and not isinstance(end, datetime)
        first, after = recurrence.whole_days(start, end, zone)
        if after <= first:
            raise BadRequest(ALL_DAY_END)
        return first, after
    start_at = _instant(start, zone)
    end_at = None if end is None else _instant(end, zone)
    if end_at is not None and end_at < start_at:
        raise BadRequest(END_BEFORE_START)
    return start_at, end_at


class _Series(NamedTuple):
    """The recurrence columns of a row, checked."""

    recurrence: str | None
    exdates: list[str] | None
    overrides: dict[str, dict[str, Any]] | None
    series_end_at: datetime | None


def _series(
    rule: str | None,
    *,
    start_at: datetime,
    end_at: datetime | None,
    zone: str,
    all_day: bool,
    exdates: Iterable[datetime],
    overrides: dict[str, dict[str, Any]] | None,
    strict: bool,
) -> _Series:
    """Normalize the rule and keep the exdates and overrides that name one of its occurrences:
    with `strict`, another exdate is a 422 (the caller sent it); without, it is dropped (the
    series moved under it)."""
    if rule is None:
        return _Series(None, None, None, None)
    try:
        canonical = rrules.normalize_rule(rule, start_at=start_at, timezone=zone, all_day=all_day)
    except rrules.RuleError as error:
        raise _invalid("recurrence", str(error)) from None
    bare = recurrence.Series(start_at, end_at, zone, all_day, canonical)
    kept: list[str] = []
    for index, instant in enumerate(exdates):
        if recurrence.has_occurrence(bare, instant):
            kept.append(recurrence.occurrence_key(instant))
        elif strict:
            raise _invalid("exdates", f"{instant.isoformat()} is not an occurrence", index)
    edited = {
        key: values
        for key, values in (overrides or {}).items()
        if key not in kept and recurrence.has_occurrence(bare, datetime.fromisoformat(key))
    }
    full = recurrence.Series.of_columns(
        start_at=start_at,
        end_at=end_at,
        timezone=zone,
        all_day=all_day,
        recurrence=canonical,
        exdates=kept,
        overrides=edited,
    )
    return _Series(canonical, sorted(set(kept)) or None, edited or None, recurrence.span_end(full))


def new_item_columns(
    request: CreateScheduleItem,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    strict_exdates: bool = True,
) -> dict[str, Any]:
    """The checked columns of a new item (owner and source aside): `create_item`, and the
    iCalendar import, which checks every item of a file before writing any. `overrides` are
    occurrences edited alone (the import's RECURRENCE-ID events), already checked; an exdate
    that names no occurrence is a 422 with `strict_exdates`, else dropped."""
    zone = request.timezone
    start, end = _times(request.start_at, request.end_at, zone, request.all_day)
    series = _series(
        request.recurrence,
        start_at=start,
        end_at=end,
        zone=zone,
        all_day=request.all_day,
        exdates=[_instant(value, zone) for value in request.exdates],
        overrides=overrides,
        strict=strict_exdates,
    )
    if series.exdates is None and request.exdates and request.recurrence is None:
        raise _invalid("exdates", "only a recurring item has exdates")
    return {
        "title": request.title,
        "description": request.description,
        "start_at": start,
        "end_at": end,
        "timezone": zone,
        "metadata": request.metadata,
        "all_day": request.all_day,
        **series._asdict(),
    }


async def create_item(
    viewer: Viewer, request: CreateScheduleItem, *, source_type: str = "manual"
) -> VisibleItem:
    item = await ScheduleItem.create(
        owner_id=viewer.user_id, source_type=source_type, **new_item_columns(request)
    )
    return VisibleItem(item, ALL_PERMISSIONS, is_owner=True)


class Listing(NamedTuple):
    entries: list[ItemRow]
    truncated: bool  # more occurrences were in the range than MAX_OCCURRENCES


def _entries(row: ItemRow, start: datetime | None, end: datetime | None) -> list[ItemRow]:
    if row.recurrence is None:
        return [
            row._replace(
                occurrence_start_at=row.start_at,
                occurrence_end_at=row.end_at,
                original_start_at=row.start_at,
            )
        ]
    series = series_of(row)
    return [
        row._replace(
            occurrence_start_at=o.start_at,
            occurrence_end_at=o.end_at,
            original_start_at=o.original_start_at,
            **o.changes,
        )
        for o in recurrence.expand(series, start, end, MAX_OCCURRENCES + 1)
    ]


def expand_rows(rows: list[ItemRow], start: datetime | None, end: datetime | None) -> Listing:
    """One entry per occurrence, by occurrence start; occurrences of recurring items are cut
    after the MAX_OCCURRENCES-th, and with them everything that starts later."""
    entries = [entry for row in rows for entry in _entries(row, start, end)]
    entries.sort(key=lambda e: (e.occurrence_start_at, e.id, e.original_start_at))
    seen = 0
    for index, entry in enumerate(entries):
        if entry.recurrence is not None:
            seen += 1
            if seen > MAX_OCCURRENCES:
                return Listing(entries[:index], truncated=True)
    return Listing(entries, truncated=False)


def range_bounds(request: ScheduleRange) -> tuple[datetime | None, datetime | None]:
    """The range as UTC instants [start, end); an end before the start is 400."""
    range_start = _bound(request.start_at, end=False)
    range_end = _bound(request.end_at, end=True)
    if range_start is not None and range_end is not None and range_end < range_start:
        raise BadRequest(END_BEFORE_START)
    return range_start, range_end


async def list_items(viewer: Viewer, request: ScheduleRange) -> Listing:
    """Own items and accepted shares, not deleted, one entry per occurrence overlapping the
    range, by occurrence start."""
    range_start, range_end = range_bounds(request)
    rows = await list_item_rows(viewer.user_id, range_start, range_end)
    return expand_rows(rows, range_start, range_end)


async def get_item(viewer: Viewer, item_id: uuid.UUID) -> VisibleItem:
    return await visible_item(viewer.user_id, item_id)


def _stored_instants(texts: list[str] | None) -> list[datetime]:
    return [datetime.fromisoformat(text) for text in texts or ()]


async def update_item(
    services: Services, viewer: Viewer, item_id: uuid.UUID, request: UpdateScheduleItem
) -> VisibleItem:
    """PATCH of the whole item (every occurrence of a series)."""
    visible = await item_for(viewer.user_id, item_id, needs=EDIT)
    item = visible.item
    changes: dict[str, Any] = request.changes()
    zone = changes.get("timezone") or item.timezone
    all_day = changes.get("all_day", item.all_day)
    if all_day != item.all_day and "start_at" not in changes:
        raise _invalid("start_at", "changing all_day needs start_at (and end_at) with it")
    if any(field in changes for field in ("start_at", "end_at", "timezone", "all_day")):
        start_value: datetime | date = changes.get("start_at", item.start_at)
        end_value: datetime | date | None = changes.get("end_at", item.end_at)
        if all_day and "start_at" not in changes:  # the stored instants, as local dates
            start_value = recurrence.local_date(item.start_at, zone)
        if all_day and "end_at" not in changes and item.end_at is not None:
            end_value = recurrence.local_date(item.end_at, zone)
        changes["start_at"], changes["end_at"] = _times(start_value, end_value, zone, all_day)
    if any(field in changes for field in (*_TIMING, "exdates")):
        rule = changes.get("recurrence", item.recurrence)
        sent = changes.pop("exdates", None)
        exdates = (
            [_instant(value, zone) for value in sent]
            if sent is not None
            else _stored_instants(item.exdates)
        )
        changes.update(
            _series(
                rule,
                start_at=changes.get("start_at", item.start_at),
                end_at=changes.get("end_at", item.end_at),
                zone=zone,
                all_day=all_day,
                exdates=exdates,
                overrides=item.overrides,
                strict=sent is not None,
            )._asdict()
        )
    if changes:
        for field, value in changes.items():
            setattr(item, field, value)
        await item.save(update_fields=[*changes, "updated_at"])
        await events.schedule_item_changed(services, item.id, "UPDATED")
    return visible


def _occurrence_of(item: ScheduleItem, occurrence: datetime | date) -> recurrence.Occurrence:
    """The occurrence named by its original start, or NotFound/BadRequest."""
    if item.recurrence is None:
        raise BadRequest("occurrence: this item does not repeat; leave occurrence out.")
    if not 1 < occurrence.year < 9999:  # read in the item's zone, it could overflow
        raise NotFound("This item has no occurrence then.")
    series = series_of(item)
    instant = _instant(occurrence, item.timezone)
    if instant in series.exdates or not recurrence.has_occurrence(series, instant):
        raise NotFound(f"This item has no occurrence starting at {instant.isoformat()}.")
    override = series.overrides.get(instant)
    if override is not None:
        return recurrence.Occurrence(instant, override.start_at, override.end_at, override.changes)
    duration = series.wall_duration()
    local = instant.astimezone(series.zone)
    return recurrence.Occurrence(instant, instant, series.natural_end(local, duration), {})


def series_of(item: ScheduleItem | ItemRow) -> recurrence.Series:
    """The series of a stored item, or of its list view (the same columns)."""
    return recurrence.Series.of_columns(
        start_at=item.start_at,
        end_at=item.end_at,
        timezone=item.timezone,
        all_day=item.all_day,
        recurrence=item.recurrence,
        exdates=item.exdates,
        overrides=item.overrides,
    )


async def _locked(item_id: uuid.UUID) -> ScheduleItem:
    # Overrides and exdates are read, changed and written back: the row lock keeps two
    # concurrent edits of one series from losing one (SQLite serializes writes anyway).
    item = await ScheduleItem.select_for_update().get_or_none(id=item_id, deleted_at=None)
    if item is None:
        raise NotFound("Schedule item not found.")
    return item


async def update_occurrence(
    services: Services,
    viewer: Viewer,
    item_id: uuid.UUID,
    occurrence: datetime | date,
    request: OccurrenceChanges,
) -> VisibleItem:
    """PATCH of one occurrence: stored as an override of the series; the answer is that
    occurrence (`VisibleItem.occurrence`)."""
    visible = await item_for(viewer.user_id, item_id, needs=EDIT)
    changes: dict[str, Any] = request.model_dump(include=request.model_fields_set)
    for required in ("title", "start_at", "metadata", "status"):
        if required in changes and changes[required] is None:
            raise _invalid(required, "cannot be null")
    async with in_transaction():
        item = await _locked(item_id)
        current = _occurrence_of(item, occurrence)
        start = to_utc(changes["start_at"], item.timezone) if "start_at" in changes else None
        start = start or current.start_at
        if "end_at" in changes:
            end = None if changes["end_at"] is None else to_utc(changes["end_at"], item.timezone)
        elif "start_at" in changes and current.end_at is not None:
            end = start + (current.end_at - current.start_at)
        else:
            end = current.end_at
        if start < item.start_at:
            raise _invalid("start_at", "an occurrence cannot move before the series' first start")
        if end is not None and end < start:
            raise BadRequest(END_BEFORE_START)
        key = recurrence.occurrence_key(current.original_start_at)
        override = {**(item.overrides or {}).get(key, {}), **changes}
        override["start_at"] = start.isoformat()
        override["end_at"] = None if end is None else end.isoformat()
        item.overrides = {**(item.overrides or {}), key: override}
        item.series_end_at = recurrence.span_end(series_of(item))
        await item.save(update_fields=["overrides", "series_end_at", "updated_at"])
    await events.schedule_item_changed(services, item.id, "UPDATED")
    return replace(visible, item=item, occurrence=_occurrence_of(item, occurrence))


async def delete_occurrence(
    services: Services, viewer: Viewer, item_id: uuid.UUID, occurrence: datetime | date
) -> None:
    """Leave one occurrence out of a series (an exdate); needs the edit bit, as any change of
    the series does (deleting the whole item is the owner's)."""
    await item_for(viewer.user_id, item_id, needs=EDIT)
    async with in_transaction():
        item = await _locked(item_id)
        current = _occurrence_of(item, occurrence)
        key = recurrence.occurrence_key(current.original_start_at)
        item.exdates = sorted({*(item.exdates or ()), key})
        overrides = {k: v for k, v in (item.overrides or {}).items() if k != key}
        item.overrides = overrides or None
        item.series_end_at = recurrence.span_end(series_of(item))
        await item.save(update_fields=["exdates", "overrides", "series_end_at", "updated_at"])
    await events.schedule_item_changed(services, item.id, "UPDATED")


async def delete_item(services: Services, viewer: Viewer, item_id: uuid.UUID) -> None:
    """Soft delete by the owner; the item is then 404 for everyone and pending invitations to
    it are void."""
    visible = await owned_item(viewer.user_id, item_id)
    now = datetime.now(UTC)
    async with in_transaction():
        await ScheduleItem.filter(id=visible.item.id, deleted_at=None).update(deleted_at=now)
        await InboxMessage.filter(schedule_item_id=visible.item.id, status="pending").update(
            status="dismissed", open_invitation=None
        )
    visible.item.deleted_at = now
    await events.schedule_item_changed(services, visible.item.id, "DELETED")
