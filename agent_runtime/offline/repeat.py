"""A series as the offline model understands one, and the RFC 5545 RRULE it becomes once its
first day is known. Read from the user's words by `recurrence`."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from agent_runtime.offline.days import safe_date

Frequency = Literal["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]

_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# A monthly day that no month of the next four years has (there is none from 1 to 31) would
# loop forever: give up looking after this many months.
_MONTHS_SEARCHED = 48


@dataclass(frozen=True, slots=True)
class Repeat:
    """How an item repeats. `weekdays` (Monday 0) and `month_day` pin the days of a weekly or
    monthly rule; without them the first occurrence's day sets the pattern (RFC 5545). The end is
    at most one of `until` (a last day, included), `count`, or `span` `span_unit`s ("for 10
    weeks"), which becomes a count or a last day once the first day is known."""

    frequency: Frequency
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    month_day: int | None = None
    until: date | None = None
    count: int | None = None
    span: int | None = None
    span_unit: Frequency | None = None

    def first_day(self, earliest: date) -> date:
        """The rule's first day on or after `earliest`: the item's start must be it."""
        if self.weekdays:
            return min(earliest + timedelta((d - earliest.weekday()) % 7) for d in self.weekdays)
        if self.month_day is not None:
            year, month = earliest.year, earliest.month
            for _ in range(_MONTHS_SEARCHED):
                found = safe_date(year, month, self.month_day)
                if found is not None and found >= earliest:
                    return found
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return earliest

    def rule(self, first: date) -> str:
        """The RRULE (FREQ first, as the server stores it) of a series starting on `first`."""
        parts = [f"FREQ={self.frequency}"]
        if self.interval > 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.weekdays:
            parts.append("BYDAY=" + ",".join(_BYDAY[d] for d in self.weekdays))
        if self.month_day is not None:
            parts.append(f"BYMONTHDAY={self.month_day}")
        count, until = self.count, self.until
        if self.span is not None and self.span_unit is not None:
            if self.span_unit == self.frequency and len(self.weekdays) <= 1:
                # One occurrence per period: "every other week for 10 weeks" is 5 of them.
                count = -(-self.span // self.interval)
            else:
                until = _advance(first, self.span, self.span_unit) - timedelta(days=1)
        if count is not None:
            parts.append(f"COUNT={count}")
        elif until is not None:
            parts.append(f"UNTIL={until:%Y%m%d}")
        return ";".join(parts)


def _advance(day: date, count: int, unit: Frequency) -> date:
    """`count` days, weeks, months or years after `day` (a month's last day when it is short)."""
    if unit == "DAILY":
        return day + timedelta(days=count)
    if unit == "WEEKLY":
        return day + timedelta(weeks=count)
    months = day.month - 1 + count * (12 if unit == "YEARLY" else 1)
    year, month = day.year + months // 12, months % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
