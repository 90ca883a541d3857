"""RRULEs in words for the offline model's answers: "every Monday, 10 times", "每周一，共10次".

Only what people commonly ask for is put in words (a frequency, an interval, weekdays, a day of
the month, COUNT or UNTIL); any other rule is shown as it is, which is still the truth.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Literal

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZH_DAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_EN_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_ZH_UNITS = {"DAILY": "天", "WEEKLY": "周", "MONTHLY": "个月", "YEARLY": "年"}
_KNOWN = frozenset({"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "COUNT", "UNTIL", "WKST"})
_WORKDAYS = [0, 1, 2, 3, 4]


def _parts(rule: str) -> dict[str, str] | None:
    parts: dict[str, str] = {}
    for piece in rule.removeprefix("RRULE:").split(";"):
        name, sep, value = piece.partition("=")
        if not sep:
            return None
        parts[name.strip().upper()] = value.strip().upper()
    return parts


def _until(value: str, zone: tzinfo) -> date | None:
    """UNTIL's last day in the user's zone (a DATE as it is; a UTC DATE-TIME converted)."""
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.astimezone(zone).date()


def _weekdays(value: str | None) -> list[int] | None:
    if value is None:
        return []
    days = value.split(",")
    if not all(day in _DAYS for day in days):
        return None  # "1MO" and other positions are left to the raw rule
    return sorted({_DAYS.index(day) for day in days})


def describe_rule(rule: str, zone: tzinfo, lang: Literal["en", "zh"]) -> str:
    """The rule in the user's language; the rule itself when it says more than we can word."""
    parts = _parts(rule)
    if parts is None or not parts.keys() <= _KNOWN or parts.get("FREQ") not in _EN_UNITS:
        return rule
    frequency = parts["FREQ"]
    interval_text = parts.get("INTERVAL", "1")
    interval = int(interval_text) if interval_text.isdigit() else 1
    days = _weekdays(parts.get("BYDAY"))
    month_day = parts.get("BYMONTHDAY")
    if days is None or (month_day is not None and not month_day.isdigit()):
        return rule
    until = _until(parts["UNTIL"], zone) if "UNTIL" in parts else None
    count = parts.get("COUNT")
    if lang == "zh":
        return _zh(frequency, interval, days, month_day, count, until)
    return _en(frequency, interval, days, month_day, count, until)


def _en(
    frequency: str,
    interval: int,
    days: list[int],
    month_day: str | None,
    count: str | None,
    until: date | None,
) -> str:
    unit = _EN_UNITS[frequency]
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    if days == _WORKDAYS and interval == 1:
        text = "every weekday"
    elif days:
        names = [_EN_DAYS[day] for day in days]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        text = f"every {listed}" if interval == 1 else f"{every} on {listed}"
    elif month_day is not None:
        text = f"{every} on day {int(month_day)}"
    else:
        text = every
    if count is not None:
        text += f", {count} times"
    elif until is not None:
        text += f", until {until:%b} {until.day}, {until.year}"
    return text


def _zh(
    frequency: str,
    interval: int,
    days: list[int],
    month_day: str | None,
    count: str | None,
    until: date | None,
) -> str:
    unit = _ZH_UNITS[frequency]
    every = f"每{unit}" if interval == 1 else f"每{interval}{unit}"
    if days == _WORKDAYS and interval == 1:
        text = "每个工作日"
    elif days:
        names = "、".join(_ZH_DAYS[day] for day in days)
        text = f"每{names}" if interval == 1 else f"{every}的{names}"
    elif month_day is not None:
        text = f"{every}{int(month_day)}日"
    else:
        text = every
    if count is not None:
        text += f"，共{count}次"
    elif until is not None:
        text += f"，到{until.year}年{until.month}月{until.day}日为止"
    return text
