"""Recurring schedule items: expanding a series into occurrences (its rule is checked and walked
by `resolvers/rrules.py`).

Occurrences are computed on the wall clock of the item's time zone (python-dateutil's `rrule`
over zone-aware datetimes): a weekly 10:00 Europe/Berlin item stays at 10:00 across daylight
saving time, and its duration is wall-clock too (what RFC 5545 §3.8.5.3 and the calendar apps
do). An occurrence is named by its *original* start (RFC 5545's RECURRENCE-ID), in UTC: the key
of `exdates` (occurrences left out) and `overrides` (occurrences edited one by one, which may
move).

This module is pure: no database, no I/O. The resolvers keep the series' columns in a `Series`.
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule

from resolvers.rrules import (
    SPAN_SCAN_LIMIT,
    anchored,
    bounded,
    build_rule,
    horizon,
    local_start,
    part,
    split_rule,
    until_value,
)

# --- series ----------------------------------------------------------------------------------


def occurrence_key(value: datetime) -> str:
    """The JSON key naming an occurrence: its original start in UTC, ISO 8601."""
    return value.astimezone(UTC).isoformat()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Override(NamedTuple):
    """One occurrence edited alone: its times (which may move it) and the other changed fields."""

    start_at: datetime
    end_at: datetime | None
    changes: Mapping[str, Any]  # title, description, metadata, status: only those changed


class Occurrence(NamedTuple):
    original_start_at: datetime
    start_at: datetime
    end_at: datetime | None
    changes: Mapping[str, Any]


_NO_CHANGES: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Series:
    """What expansion needs of an item. `start_at`/`end_at` are the first occurrence's (UTC)."""

    start_at: datetime
    end_at: datetime | None
    timezone: str
    all_day: bool
    recurrence: str | None
    exdates: frozenset[datetime] = frozenset()
    overrides: Mapping[datetime, Override] = field(default_factory=dict)

    @classmethod
    def of_columns(
        cls,
        *,
        start_at: datetime,
        end_at: datetime | None,
        timezone: str,
        all_day: bool,
        recurrence: str | None,
        exdates: list[str] | None,
        overrides: Mapping[str, Mapping[str, Any]] | None,
    ) -> Series:
        """From the stored columns (`exdates`: ISO instants; `overrides`: ISO instant → the
        changed fields, with `start_at`/`end_at` as ISO instants)."""
        moved: dict[datetime, Override] = {}
        for key, values in (overrides or {}).items():
            original = _instant(key)
            changes = {k: v for k, v in values.items() if k not in ("start_at", "end_at")}
            start = _instant(values["start_at"]) if "start_at" in values else original
            # Moved without a new end: it keeps the series' length.
            end = None if end_at is None else start + (end_at - start_at)
            if "end_at" in values:
                end = None if values["end_at"] is None else _instant(values["end_at"])
            moved[original] = Override(start, end, changes)
        return cls(
            start_at=start_at.astimezone(UTC),
            end_at=None if end_at is None else end_at.astimezone(UTC),
            timezone=timezone,
            all_day=all_day,
            recurrence=recurrence,
            exdates=frozenset(_instant(text) for text in exdates or ()),
            overrides=moved,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule(self) -> rrule | None:
        if self.recurrence is None:
            return None
        return _stored_rule(self.recurrence, self.start_at, self.timezone)

    def wall_duration(self) -> timedelta | None:
        """The first occurrence's length on the local wall clock (subtracting two datetimes of
        one zone ignores their offsets), which every occurrence keeps."""
        if self.end_at is None:
            return None
        zone = self.zone
        return self.end_at.astimezone(zone) - self.start_at.astimezone(zone)

    def natural_end(self, start_local: datetime, duration: timedelta | None) -> datetime | None:
        return None if duration is None else (start_local + duration).astimezone(UTC)


@functools.lru_cache(maxsize=1024)
def _stored_rule(text: str, start_at: datetime, timezone: str) -> rrule:
    """A stored series' rule, parsed once: every list request expands the same series again,
    and parsing (rrulestr, UNTIL) was a third of expanding one. Sharing is safe: an rrule made
    without dateutil's cache keeps no state between iterations."""
    zone = ZoneInfo(timezone)
    return build_rule(split_rule(text), local_start(start_at, zone), zone)


def has_occurrence(series: Series, original_start: datetime) -> bool:
    """Whether the rule (exdates aside) has an occurrence starting at this instant."""
    rule = series.rule()
    if rule is None:
        return original_start == series.start_at
    local = original_start.astimezone(series.zone)
    if part(rule, "count") is not None:
        # Counted from its start, so walked from there (checking the rule bounded that walk).
        return bool(rule.between(local, local, inc=True))
    return local in bounded(anchored(rule, local), local)


def _overlaps(
    start: datetime, end: datetime | None, range_start: datetime | None, range_end: datetime | None
) -> bool:
    # The list's own rule (resolvers/schedule_listing.py): starts before the range ends, and
    # starts inside it or is still running when it begins.
    if range_end is not None and not start < range_end:
        return False
    if range_start is None:
        return True
    return start >= range_start or (end is not None and end > range_start)


def _natural(
    series: Series, rule: rrule, range_start: datetime | None, range_end: datetime | None
) -> Iterator[Occurrence]:
    """The rule's occurrences overlapping the range, neither left out nor edited, by start."""
    zone = series.zone
    duration = series.wall_duration()
    if range_start is None:
        walk = rule
        lower = None
    else:
        # An occurrence that began before the range may still be running when it starts.
        reach = duration if duration is not None and duration > timedelta(0) else timedelta(0)
        reach += timedelta(days=1)
        # (An occurrence may last for centuries: then the walk starts at the series' start.)
        lower = None if range_start - series.start_at <= reach else range_start - reach
        if lower is not None:
            lower = lower.astimezone(zone)
            walk = anchored(rule, lower)
        else:
            walk = rule
    walk_start: datetime = part(walk, "dtstart")
    upper = horizon(walk, walk_start)
    if range_end is not None and range_end.astimezone(zone) < upper:
        upper = range_end.astimezone(zone)
    if part(rule, "count") is None:
        walk = bounded(walk, upper)
    candidates: Iterator[datetime] = iter(walk) if lower is None else walk.xafter(lower, inc=True)
    for local in candidates:
        try:
            start = local.astimezone(UTC)
            end = series.natural_end(local, duration)
        except OverflowError:  # past Python's last datetime (year 9999): nothing more to list
            return
        if range_end is not None and start >= range_end:
            return
        if start in series.exdates or start in series.overrides:
            continue
        if _overlaps(start, end, range_start, range_end):
            yield Occurrence(start, start, end, _NO_CHANGES)


def expand(
    series: Series, range_start: datetime | None, range_end: datetime | None, limit: int
) -> list[Occurrence]:
    """The series' occurrences overlapping [range_start, range_end), by start, at most `limit`
    of them (the earliest). An item that does not repeat is its own single occurrence."""
    rule = series.rule()
    if rule is None:
        if _overlaps(series.start_at, series.end_at, range_start, range_end):
            return [Occurrence(series.start_at, series.start_at, series.end_at, _NO_CHANGES)]
        return []
    edited = sorted(
        (
            Occurrence(original, o.start_at, o.end_at, o.changes)
            for original, o in series.overrides.items()
            if original not in series.exdates
            and _overlaps(o.start_at, o.end_at, range_start, range_end)
        ),
        key=lambda o: (o.start_at, o.original_start_at),
    )
    merged = heapq.merge(
        _natural(series, rule, range_start, range_end),
        edited,
        key=lambda o: (o.start_at, o.original_start_at),
    )
    return list(itertools.islice(merged, limit))


def span_end(series: Series) -> datetime | None:
    """An instant no occurrence runs past (for the range query's index condition), or None when
    the series has no end (or one too far to look for). A single item: its end or start."""
    rule = series.rule()
    bounds = [o.end_at or o.start_at for o in series.overrides.values()]
    if rule is None:
        return max([series.end_at or series.start_at, *bounds])
    duration = series.wall_duration() or timedelta(0)
    parts = split_rule(series.recurrence or "")
    if "UNTIL" in parts:
        last = until_value(parts["UNTIL"], series.zone) + timedelta(days=1)
    elif "COUNT" in parts:
        occurrences = list(itertools.islice(iter(rule), SPAN_SCAN_LIMIT))
        if len(occurrences) >= SPAN_SCAN_LIMIT:
            return None
        last = occurrences[-1]
    else:
        return None
    try:
        end = (last.astimezone(series.zone) + duration).astimezone(UTC) + timedelta(days=1)
    except OverflowError:  # it ends past Python's last datetime: as good as never
        return None
    return max([end, *bounds])


def whole_days(start: date, end: date | None, timezone: str) -> tuple[datetime, datetime]:
    """An all-day item's instants: local midnight of its first day, and of the day after its
    last (`end` is exclusive, as RFC 5545's DTEND and Google Calendar have it; None: one day)."""
    zone = ZoneInfo(timezone)
    last = end if end is not None else start + timedelta(days=1)
    return (
        datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC),
        datetime.combine(last, time.min, tzinfo=zone).astimezone(UTC),
    )


def local_date(value: datetime, timezone: str) -> date:
    """The local calendar date of an instant (an all-day item's dates)."""
    return value.astimezone(ZoneInfo(timezone)).date()


def all_day_dates(
    all_day: bool, start_at: datetime, end_at: datetime | None, timezone: str
) -> tuple[date | None, date | None]:
    """An all-day item's first day and the day after its last; (None, None) for a timed one."""
    if not all_day:
        return None, None
    end = None if end_at is None else local_date(end_at, timezone)
    return local_date(start_at, timezone), end
