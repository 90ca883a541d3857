"""Recurring schedule items: checking an RFC 5545 `RRULE` and expanding a series into occurrences.

Occurrences are computed on the wall clock of the item's time zone (python-dateutil's `rrule`
over zone-aware datetimes): a weekly 10:00 Europe/Berlin item stays at 10:00 across daylight
saving time, and its duration is wall-clock too (what RFC 5545 §3.8.5.3 and the calendar apps
do). An occurrence is named by its *original* start (RFC 5545's RECURRENCE-ID), in UTC: the key
of `exdates` (occurrences left out) and `overrides` (occurrences edited one by one, which may
move).

This module is pure: no database, no I/O. The resolvers keep the series' columns in a `Series`.
"""

from __future__ import annotations

import calendar
import functools
import heapq
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

MAX_RULE_LENGTH = 500
MAX_COUNT = 5000
# The parts of RFC 5545 §3.3.10 a rule may hold. DTSTART is the item's own start; RDATE and
# EXRULE are not part of an RRULE value (EXRULE is deprecated by RFC 5545).
_PARTS = frozenset(
    {
        "FREQ",
        "UNTIL",
        "COUNT",
        "INTERVAL",
        "BYSECOND",
        "BYMINUTE",
        "BYHOUR",
        "BYDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
        "WKST",
    }
)
_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
# Parts RFC 5545 §3.3.10 allows only with some frequencies (BYSETPOS: our own restriction; it
# picks from the set of a month or a year). Besides following the RFC, this keeps the rules
# whose first period cannot be checked at a glance (`_start_matches`) to MONTHLY and YEARLY,
# whose walk through a century of empty periods is short.
_ONLY_WITH = {
    "BYWEEKNO": ("YEARLY",),
    "BYYEARDAY": ("YEARLY", "HOURLY"),
    "BYMONTHDAY": ("YEARLY", "MONTHLY", "DAILY", "HOURLY"),
    "BYSETPOS": ("YEARLY", "MONTHLY"),
}
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
# Expanding a bounded series to find its last occurrence stops here; a longer one is treated as
# unbounded by the range query (still correct, only less selective).
_SPAN_SCAN_LIMIT = MAX_COUNT + 1


# dateutil walks a rule from its start, one period (FREQ × INTERVAL) at a time, even through
# periods without an occurrence: a range far from a series' start, or a sparse rule, would cost
# seconds to minutes of CPU. So a walk never starts more than a period or two before where it is
# wanted (`_anchored`) and never runs more than this many periods: a COUNT must be used up
# within them, and a list with no end of range looks this far past its start.
HORIZON_PERIODS = 50_000
_STEP = {
    YEARLY: relativedelta(years=1),
    MONTHLY: relativedelta(months=1),
    WEEKLY: relativedelta(weeks=1),
    DAILY: relativedelta(days=1),
    HOURLY: relativedelta(hours=1),
}


class RuleError(ValueError):
    """A rule that cannot be used; the message says why, for a 422."""


def _until_value(text: str, zone: ZoneInfo) -> datetime:
    """UNTIL as an aware datetime: a DATE is its whole local day, a floating DATE-TIME is local
    time, and one ending in Z is UTC."""
    try:
        if len(text) == 8:
            day = datetime.strptime(text, "%Y%m%d").date()
            value = datetime.combine(day, time.min, tzinfo=zone)
        elif text.endswith("Z"):
            value = datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        else:
            value = datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=zone)
    except ValueError:
        raise RuleError(f"UNTIL={text} is not a DATE (YYYYMMDD) or DATE-TIME") from None
    # UNTIL is read up to a day further (a DATE includes its day, span_end adds one): within a
    # day of Python's last datetime that overflows, so it is refused as the item's own times are
    # (resolvers/calendar_inputs.py).
    if not 1 < value.year < 9999:
        raise RuleError(f"UNTIL={text}: the year must be between 2 and 9998")
    return value


def _split(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if not body:
        raise RuleError("the rule is empty")
    if len(body) > MAX_RULE_LENGTH:
        raise RuleError(f"the rule is longer than {MAX_RULE_LENGTH} characters")
    if "\n" in body or "\r" in body:
        raise RuleError("a rule is one RRULE value (no DTSTART, RDATE or other lines)")
    parts: dict[str, str] = {}
    for piece in body.split(";"):
        name, sep, value = piece.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise RuleError(f"{piece!r} is not NAME=VALUE")
        if name not in _PARTS:
            raise RuleError(f"{name} is not a part of an RRULE")
        if name in parts:
            raise RuleError(f"{name} appears twice")
        parts[name] = value.strip().upper()
    return parts


def _check_parts(parts: dict[str, str], all_day: bool) -> None:
    frequency = parts.get("FREQ")
    if frequency is None:
        raise RuleError("FREQ is required")
    if frequency in ("SECONDLY", "MINUTELY"):
        raise RuleError(f"FREQ={frequency} is not supported (HOURLY is the finest)")
    if frequency not in _FREQUENCIES:
        raise RuleError(f"FREQ={frequency} is not a frequency")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleError("COUNT and UNTIL must not both be given (RFC 5545)")
    count = parts.get("COUNT", "1")
    if not count.isdigit() or not 1 <= int(count) <= MAX_COUNT:
        raise RuleError(f"COUNT must be a whole number from 1 to {MAX_COUNT}")
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or not 1 <= int(interval) <= 1000:
        raise RuleError("INTERVAL must be a whole number from 1 to 1000")
    if all_day and (frequency == "HOURLY" or any(p in parts for p in _TIME_PARTS)):
        raise RuleError("an all-day item repeats by days: no HOURLY, BYHOUR, BYMINUTE, BYSECOND")
    for name, frequencies in _ONLY_WITH.items():
        if name in parts and frequency not in frequencies:
            raise RuleError(f"{name} is only for FREQ={' or '.join(frequencies)}")
    if frequency not in ("MONTHLY", "YEARLY") and any(c.isdigit() for c in parts.get("BYDAY", "")):
        raise RuleError("a numbered BYDAY (1MO, -1FR) is only for FREQ=MONTHLY or YEARLY")


def _local_start(start_at: datetime, zone: ZoneInfo) -> datetime:
    return start_at.astimezone(zone)


def _build(parts: dict[str, str], start_local: datetime, zone: ZoneInfo) -> rrule:
    without_until = ";".join(f"{k}={v}" for k, v in parts.items() if k != "UNTIL")
    try:
        rule = rrulestr(without_until, dtstart=start_local)
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise RuleError(f"the rule is not valid: {error}") from None
    if not isinstance(rule, rrule):  # rrulestr gives an rruleset only for several lines
        raise RuleError("a rule is one RRULE value")
    if "UNTIL" in parts:
        until = _until_value(parts["UNTIL"], zone)
        if len(parts["UNTIL"]) == 8:  # a DATE includes its whole day
            until = until + timedelta(days=1) - timedelta(microseconds=1)
        rule = rule.replace(until=until)
    return rule


def _canonical(parts: dict[str, str], zone: ZoneInfo, all_day: bool) -> str:
    """FREQ first, then the rest as given; UNTIL in the form RFC 5545 asks for next to the
    item's DTSTART: a DATE for an all-day item, else a UTC DATE-TIME."""
    canonical = dict(parts)
    if "UNTIL" in parts:
        until = _until_value(parts["UNTIL"], zone)
        if all_day:
            canonical["UNTIL"] = until.astimezone(zone).strftime("%Y%m%d")
        else:
            if len(parts["UNTIL"]) == 8:  # a DATE includes its whole day: up to its last second
                until = until + timedelta(days=1) - timedelta(seconds=1)
            canonical["UNTIL"] = until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    ordered = {"FREQ": canonical.pop("FREQ"), **canonical}
    return ";".join(f"{k}={v}" for k, v in ordered.items())


def normalize_rule(text: str, *, start_at: datetime, timezone: str, all_day: bool) -> str:
    """The rule in canonical form (no `RRULE:` prefix), or RuleError. The item's start must be
    the rule's first occurrence (RFC 5545 leaves any other DTSTART undefined), and the rule
    must produce at least that one."""
    if start_at.microsecond:  # RRULE times have whole seconds (dateutil drops the rest)
        raise RuleError("start_at of a recurring item must have whole seconds")
    zone = ZoneInfo(timezone)
    parts = _split(text)
    _check_parts(parts, all_day)
    start = _local_start(start_at, zone)
    rule = _build(parts, start, zone)
    if _start_matches(rule, start) is False:
        # (Said without walking the rule: a rule none of whose days exist, FREQ=DAILY with
        # BYMONTHDAY=30 and BYMONTH=2, would be walked to the year 9999, for seconds.)
        raise RuleError(
            "start_at must be the rule's first occurrence: it is not one of the rule's days "
            "or times"
        )
    first = next(iter(_bounded(rule, _horizon(rule, start))), None)
    if first != start:
        if first is None:
            raise RuleError(
                "the rule has no occurrence from start_at on (UNTIL before start_at, or days "
                "that do not exist?)"
            )
        raise RuleError(
            "start_at must be the rule's first occurrence: "
            f"the rule's first one from start_at is {first.isoformat()}"
        )
    count = _part(rule, "count")
    if count is not None:
        found = sum(1 for _ in itertools.islice(_bounded(rule, _horizon(rule, start)), count))
        if found < count:
            raise RuleError(
                f"COUNT={count} is not reached within {HORIZON_PERIODS:,} of the rule's "
                "periods: end the rule with UNTIL instead"
            )
    return _canonical(parts, zone, all_day)


def _start_matches(rule: rrule, start: datetime) -> bool | None:
    """Whether `start` passes the rule's filters (BYMONTH, BYMONTHDAY, BYYEARDAY, BYDAY,
    BYHOUR, …, as dateutil resolved them from the rule and its start), or None for a rule with
    BYSETPOS, BYWEEKNO or a numbered BYDAY, which picks from a period's set. A start that
    passes is among the first period's occurrences, so the walk to it is one period long."""
    if _part(rule, "bysetpos") or _part(rule, "byweekno") or _part(rule, "bynweekday"):
        return None
    day = start.date()
    month_length = (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)).day
    year_length = 366 if calendar.isleap(day.year) else 365
    year_day = day.timetuple().tm_yday
    month_days = (_part(rule, "bymonthday") or ()) + (_part(rule, "bynmonthday") or ())
    checks = [
        (_part(rule, "bymonth"), (day.month,)),
        (month_days, (day.day, day.day - month_length - 1)),
        (_part(rule, "byyearday"), (year_day, year_day - year_length - 1)),
        (_part(rule, "byweekday"), (day.weekday(),)),
        (_part(rule, "byhour"), (start.hour,)),
        (_part(rule, "byminute"), (start.minute,)),
        (_part(rule, "bysecond"), (start.second,)),
    ]
    return all(not allowed or any(v in allowed for v in values) for allowed, values in checks)


def _part(rule: rrule, name: str) -> Any:
    """A part of a dateutil rule as it resolved it (`freq`, `count`, `dtstart`, …): dateutil
    keeps them in private attributes, which its own `replace` reads too."""
    return getattr(rule, f"_{name}")


def _step(rule: rrule) -> relativedelta:
    step: relativedelta = _STEP[_part(rule, "freq")] * _part(rule, "interval")
    return step


def _horizon(rule: rrule, start: datetime) -> datetime:
    """HORIZON_PERIODS of the rule's periods after `start` (wall clock), or the last date."""
    try:
        return _wall(start, _step(rule) * HORIZON_PERIODS)
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=start.tzinfo) - timedelta(days=1)


def _wall(local: datetime, delta: relativedelta) -> datetime:
    """`local` moved by `delta` on the wall clock of its zone (as dateutil steps)."""
    moved: datetime = local.replace(tzinfo=None) + delta
    return moved.replace(tzinfo=local.tzinfo)


def _bounded(rule: rrule, until: datetime) -> rrule:
    """The rule ending no later than `until` (inclusive), its COUNT aside: walking it stops
    there even through periods without occurrences."""
    own = _part(rule, "until")
    bound = until if own is None or until < own else own
    bounded: rrule = rule.replace(count=None, until=bound)
    return bounded


def _anchored(rule: rrule, wanted: datetime) -> rrule:
    """The same occurrences from a period or two before `wanted` on, from a rule that starts
    there instead of at its own start, so that a walk to `wanted` is short. A rule with COUNT
    counts from its start and is kept (its walk is bounded when it is checked)."""
    start: datetime = _part(rule, "dtstart")
    if _part(rule, "count") is not None or wanted <= start:
        return rule
    naive_start, naive_wanted = start.replace(tzinfo=None), wanted.replace(tzinfo=None)
    step = _step(rule)
    if _part(rule, "freq") in (YEARLY, MONTHLY):
        months = (naive_wanted.year - naive_start.year) * 12 + naive_wanted.month
        months -= naive_start.month
        unit = step.years * 12 + step.months
        periods = months // unit - 1
    else:
        periods = int((naive_wanted - naive_start) / (naive_start + step - naive_start)) - 1
    if periods <= 0:
        return rule
    # The parts dateutil derives from DTSTART (the day, month or weekday of a rule that names
    # none) are given as they were, so that the new start does not change them; the time of
    # day is kept by stepping whole periods.
    derived = {
        name: getattr(rule, f"_{name}")
        for name in ("bymonth", "bymonthday", "byweekday")
        if name in _part(rule, "original_rule") and _part(rule, "original_rule")[name] is None
    }
    anchored: rrule = rule.replace(dtstart=_wall(start, step * periods), **derived)
    return anchored


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
    return _build(_split(text), _local_start(start_at, zone), zone)


def has_occurrence(series: Series, original_start: datetime) -> bool:
    """Whether the rule (exdates aside) has an occurrence starting at this instant."""
    rule = series.rule()
    if rule is None:
        return original_start == series.start_at
    local = original_start.astimezone(series.zone)
    return local in _bounded(_anchored(rule, local), local)


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
            walk = _anchored(rule, lower)
        else:
            walk = rule
    walk_start: datetime = _part(walk, "dtstart")
    upper = _horizon(walk, walk_start)
    if range_end is not None and range_end.astimezone(zone) < upper:
        upper = range_end.astimezone(zone)
    if _part(rule, "count") is None:
        walk = _bounded(walk, upper)
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
    parts = _split(series.recurrence or "")
    if "UNTIL" in parts:
        last = _until_value(parts["UNTIL"], series.zone) + timedelta(days=1)
    elif "COUNT" in parts:
        occurrences = list(itertools.islice(iter(rule), _SPAN_SCAN_LIMIT))
        if len(occurrences) >= _SPAN_SCAN_LIMIT:
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
