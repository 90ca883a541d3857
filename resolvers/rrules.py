"""RFC 5545 `RRULE`s: checking one (`normalize_rule`), and walking one cheaply.

python-dateutil's `rrule` does the walking, over zone-aware datetimes, so occurrences fall on
the wall clock of the item's zone. It walks from a rule's start one period at a time, through
periods without occurrences too; the helpers here keep every walk short (`anchored`,
`bounded`, `horizon`). Pure: no database, no I/O.
"""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
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
SPAN_SCAN_LIMIT = MAX_COUNT + 1


# dateutil walks a rule from its start, one period (FREQ × INTERVAL) at a time, even through
# periods without an occurrence: a range far from a series' start, or a sparse rule, would cost
# seconds to minutes of CPU. So a walk never starts more than a period or two before where it is
# wanted (`anchored`) and never runs more than this many periods: a COUNT must be used up
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


def until_value(text: str, zone: ZoneInfo) -> datetime:
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


def split_rule(text: str) -> dict[str, str]:
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


def local_start(start_at: datetime, zone: ZoneInfo) -> datetime:
    return start_at.astimezone(zone)


def build_rule(parts: dict[str, str], start_local: datetime, zone: ZoneInfo) -> rrule:
    without_until = ";".join(f"{k}={v}" for k, v in parts.items() if k != "UNTIL")
    try:
        rule = rrulestr(without_until, dtstart=start_local)
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise RuleError(f"the rule is not valid: {error}") from None
    if not isinstance(rule, rrule):  # rrulestr gives an rruleset only for several lines
        raise RuleError("a rule is one RRULE value")
    if "UNTIL" in parts:
        until = until_value(parts["UNTIL"], zone)
        if len(parts["UNTIL"]) == 8:  # a DATE includes its whole day
            until = until + timedelta(days=1) - timedelta(microseconds=1)
        rule = rule.replace(until=until)
    return rule


def _canonical(parts: dict[str, str], zone: ZoneInfo, all_day: bool) -> str:
    """FREQ first, then the rest as given; UNTIL in the form RFC 5545 asks for next to the
    item's DTSTART: a DATE for an all-day item, else a UTC DATE-TIME."""
    canonical = dict(parts)
    if "UNTIL" in parts:
        until = until_value(parts["UNTIL"], zone)
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
    parts = split_rule(text)
    _check_parts(parts, all_day)
    start = local_start(start_at, zone)
    rule = build_rule(parts, start, zone)
    if _start_matches(rule, start) is False:
        # (Said without walking the rule: a rule none of whose days exist, FREQ=DAILY with
        # BYMONTHDAY=30 and BYMONTH=2, would be walked to the year 9999, for seconds.)
        raise RuleError(
            "start_at must be the rule's first occurrence: it is not one of the rule's days "
            "or times"
        )
    first = next(iter(bounded(rule, horizon(rule, start))), None)
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
    count = part(rule, "count")
    if count is not None:
        found = sum(1 for _ in itertools.islice(bounded(rule, horizon(rule, start)), count))
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
    if part(rule, "bysetpos") or part(rule, "byweekno") or part(rule, "bynweekday"):
        return None
    day = start.date()
    month_length = (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)).day
    year_length = 366 if calendar.isleap(day.year) else 365
    year_day = day.timetuple().tm_yday
    month_days = (part(rule, "bymonthday") or ()) + (part(rule, "bynmonthday") or ())
    checks = [
        (part(rule, "bymonth"), (day.month,)),
        (month_days, (day.day, day.day - month_length - 1)),
        (part(rule, "byyearday"), (year_day, year_day - year_length - 1)),
        (part(rule, "byweekday"), (day.weekday(),)),
        (part(rule, "byhour"), (start.hour,)),
        (part(rule, "byminute"), (start.minute,)),
        (part(rule, "bysecond"), (start.second,)),
    ]
    return all(not allowed or any(v in allowed for v in values) for allowed, values in checks)


def part(rule: rrule, name: str) -> Any:
    """A part of a dateutil rule as it resolved it (`freq`, `count`, `dtstart`, …): dateutil
    keeps them in private attributes, which its own `replace` reads too."""
    return getattr(rule, f"_{name}")


def _step(rule: rrule) -> relativedelta:
    step: relativedelta = _STEP[part(rule, "freq")] * part(rule, "interval")
    return step


def horizon(rule: rrule, start: datetime) -> datetime:
    """HORIZON_PERIODS of the rule's periods after `start` (wall clock), or the last date."""
    try:
        return _wall(start, _step(rule) * HORIZON_PERIODS)
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=start.tzinfo) - timedelta(days=1)


def _wall(local: datetime, delta: relativedelta) -> datetime:
    """`local` moved by `delta` on the wall clock of its zone (as dateutil steps)."""
    moved: datetime = local.replace(tzinfo=None) + delta
    return moved.replace(tzinfo=local.tzinfo)


def bounded(rule: rrule, until: datetime) -> rrule:
    """The rule ending no later than `until` (inclusive), its COUNT aside: walking it stops
    there even through periods without occurrences."""
    own = part(rule, "until")
    if own is not None and own <= until and part(rule, "count") is None:
        return rule  # bounded already (a copy costs a third of expanding a short series)
    bounded: rrule = rule.replace(count=None, until=until if own is None else min(own, until))
    return bounded


def anchored(rule: rrule, wanted: datetime) -> rrule:
    """The same occurrences from a period or two before `wanted` on, from a rule that starts
    there instead of at its own start, so that a walk to `wanted` is short. A rule with COUNT
    counts from its start and is kept (its walk is bounded when it is checked)."""
    start: datetime = part(rule, "dtstart")
    if part(rule, "count") is not None or wanted <= start:
        return rule
    naive_start, naive_wanted = start.replace(tzinfo=None), wanted.replace(tzinfo=None)
    step = _step(rule)
    if part(rule, "freq") in (YEARLY, MONTHLY):
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
        if name in part(rule, "original_rule") and part(rule, "original_rule")[name] is None
    }
    anchored: rrule = rule.replace(dtstart=_wall(start, step * periods), **derived)
    return anchored
