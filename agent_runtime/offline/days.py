"""Calendar days named by a month and a day, shared by the date rules (`dates`) and the
repetition rules (`recurrence`)."""

from __future__ import annotations

from datetime import date


def safe_date(year: int, month: int, day: int) -> date | None:
    """The date, or None when there is no such day (February 30th)."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def month_day(today: date, year: int | None, month: int, day: int) -> date | None:
    """A month and day without a year mean their next occurrence (today included)."""
    if year is not None:
        return safe_date(year, month, day)
    found = safe_date(today.year, month, day)
    if found is not None and found < today:
        found = safe_date(today.year + 1, month, day)
    return found
