"""Dates and times of day in the user's words, in English and Chinese: `parse_when`.

Pure: "today" comes from the caller, so a result depends on the text and the date alone.
Recognised expressions are cut out of the text as they are found (see `_Scanner`), so whatever is
left over is the item's title, or the words that name an existing item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from agent_runtime.offline.days import month_day, safe_date
from agent_runtime.offline.numbers import CN_NUM, cn_number


@dataclass(frozen=True, slots=True)
class When:
    """A date and/or time of day named in a text; `None` parts were not mentioned. `span_days` is
    7 when the text named a whole week (then `day` is its Monday). `has_clock` tells an explicit
    clock time ("at 3pm", "3点") from one implied by a period word ("morning")."""

    day: date | None = None
    hour: int | None = None
    minute: int = 0
    span_days: int = 1
    has_clock: bool = False

    @property
    def is_empty(self) -> bool:
        return self.day is None and self.hour is None


class _Scanner:
    """Text from which recognised expressions are cut out one by one (each replaced by a space),
    so that what remains is the title or the words naming an item."""

    def __init__(self, text: str) -> None:
        self.text = text

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        match = pattern.search(self.text)
        if match is not None:
            self.text = f"{self.text[: match.start()]} {self.text[match.end() :]}"
        return match


@dataclass(frozen=True, slots=True)
class _Clock:
    hour: int
    minute: int
    # "3pm": the meridiem decides, period words are ignored.
    fixed: bool = False
    # "at 3", "3点": a small hour with no period word is taken as afternoon.
    bare: bool = False


# Period words, canonicalised; each has the hour it implies when no clock time is given.
_PERIODS = {
    "morning": "morning",
    "afternoon": "afternoon",
    "evening": "evening",
    "night": "evening",
    "noon": "noon",
    "midday": "noon",
    "midnight": "midnight",
    "凌晨": "early",
    "早上": "morning",
    "早晨": "morning",
    "清晨": "morning",
    "上午": "morning",
    "中午": "noon",
    "下午": "afternoon",
    "傍晚": "evening",
    "晚上": "evening",
    "晚间": "evening",
    "夜里": "evening",
    "夜间": "evening",
}
_PERIOD_HOUR = {"early": 5, "morning": 9, "noon": 12, "afternoon": 15, "evening": 19, "midnight": 0}
_ZH_PERIOD_WORDS = "凌晨|早上|早晨|清晨|上午|中午|下午|傍晚|晚上|晚间|夜里|夜间"

_WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEKDAYS_ZH |= {str(number): number - 1 for number in range(1, 8)}
_MONTHS_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_ON = r"(?:\b(?:on|for)\s+)?"
_ISO_DATE = re.compile(rf"{_ON}(?<!\d)(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?!\d)")
_ZH_DATE = re.compile(r"(?:(\d{4})年)?(?<!\d)(\d{1,2})月(\d{1,2})[日号號]?")
_EN_DATE = re.compile(
    _ON + r"\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+(\d{1,2})"
    r"(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)
_ZH_RELATIVE = re.compile(r"(大后天|后天|明天|明日|今天|今日|昨天)")
_ZH_RELATIVE_DAYS = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "今天": 0, "今日": 0, "昨天": -1}
_EN_RELATIVE = re.compile(
    _ON + r"\b(?:(?:the\s+)?(day\s+after\s+tomorrow)|(tomorrow)|(today)|(yesterday))(?:'s)?\b",
    re.IGNORECASE,
)
_ZH_WEEKDAY = re.compile(r"(下下|下|这|本|上)?个?(?:周|星期|礼拜)([一二三四五六日天七1-7])")
_EN_WEEKDAY = re.compile(
    _ON + r"\b(?:(next|this|last)\s+)?(" + "|".join(_WEEKDAYS_EN) + r")(?:'s)?\b",
    re.IGNORECASE,
)
_ZH_WEEK = re.compile(r"(本周|这周|这个?星期|本星期|下周|下个?星期)")
_EN_WEEK = re.compile(r"\b(?:for\s+)?(this|next)\s+week\b", re.IGNORECASE)

_EN_MERIDIEM = re.compile(
    r"(?:\bat\s+|@\s*)?(?<![\d:])(\d{1,2})(?:[:.]([0-5]\d))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE
)
_CLOCK = re.compile(
    rf"(?:({_ZH_PERIOD_WORDS})\s*)?(?:\bat\s+|@\s*)?(?<![\d:])([01]?\d|2[0-3])[:：]([0-5]\d)(?!\d)",
    re.IGNORECASE,
)
_ZH_HOUR = re.compile(
    rf"(?:({_ZH_PERIOD_WORDS})\s*)?(?<!\d)(\d{{1,2}}|{CN_NUM})\s*[点點时時][钟鐘]?"
    rf"(?:\s*(?:(半)|(一刻)|(三刻)|(\d{{1,2}})\s*分?|({CN_NUM})\s*分))?"
)
_EN_OCLOCK = re.compile(r"(?:\bat\s+)?\b(\d{1,2})\s*o'?clock\b", re.IGNORECASE)
_EN_AT_HOUR = re.compile(r"(?:\bat|@)\s*(\d{1,2})(?![\d:]|[./-]\d)", re.IGNORECASE)
_ZH_PERIOD = re.compile(f"({_ZH_PERIOD_WORDS})")
_EN_PERIOD = re.compile(
    r"\b(?:in\s+the\s+|this\s+|at\s+)?(morning|afternoon|evening|night|noon|midday|midnight)\b",
    re.IGNORECASE,
)

# Words that stand for a day plus a period are spelled out first, so one rule handles each part.
_NORMALISE = (
    ("今晚", "今天晚上"),
    ("明晚", "明天晚上"),
    ("今早", "今天早上"),
    ("明早", "明天早上"),
)
_EN_TONIGHT = re.compile(r"\btonight\b", re.IGNORECASE)


def _weekday(today: date, weekday: int, mode: str) -> date:
    """The day of `weekday` (Monday 0) meant by a phrase: plain names mean the next such day with
    today included; "next Friday" the next one after today; 这周/下周/上周 the calendar week's."""
    monday = today - timedelta(days=today.weekday())
    weeks = {"this": 0, "这": 0, "本": 0, "下": 1, "下下": 2, "上": -1, "last": -1}
    if mode in weeks:
        return monday + timedelta(days=7 * weeks[mode] + weekday)
    ahead = (weekday - today.weekday()) % 7
    if mode == "next" and ahead == 0:
        ahead = 7
    return today + timedelta(days=ahead)


def _take_day(scanner: _Scanner, today: date) -> tuple[date | None, int]:
    """The first day expression in the text, and how many days it spans (1, or 7 for a week)."""
    if match := scanner.take(_ISO_DATE):
        return safe_date(int(match[1]), int(match[2]), int(match[3])), 1
    if match := scanner.take(_ZH_DATE):
        year = int(match[1]) if match[1] else None
        return month_day(today, year, int(match[2]), int(match[3])), 1
    if match := scanner.take(_EN_DATE):
        month = _MONTHS_EN.index(match[1][:3].lower()) + 1
        return month_day(today, None, month, int(match[2])), 1
    if match := scanner.take(_ZH_RELATIVE):
        return today + timedelta(days=_ZH_RELATIVE_DAYS[match[1]]), 1
    if match := scanner.take(_EN_RELATIVE):
        offset = 2 if match[1] else 1 if match[2] else 0 if match[3] else -1
        return today + timedelta(days=offset), 1
    if match := scanner.take(_ZH_WEEKDAY):
        return _weekday(today, _WEEKDAYS_ZH[match[2]], match[1] or ""), 1
    if match := scanner.take(_EN_WEEKDAY):
        mode = (match[1] or "").lower()
        return _weekday(today, _WEEKDAYS_EN.index(match[2].lower()), mode), 1
    if match := scanner.take(_ZH_WEEK) or scanner.take(_EN_WEEK):
        upcoming = match[1].lower() in ("next",) or match[1].startswith("下")
        return _weekday(today, 0, "下" if upcoming else "这"), 7
    return None, 1


def _zh_minute(match: re.Match[str]) -> int:
    if match[3]:
        return 30
    if match[4]:
        return 15
    if match[5]:
        return 45
    return cn_number(match[6] or match[7] or "0") or 0


def _take_clock(scanner: _Scanner) -> tuple[_Clock | None, str | None]:
    """The first clock time in the text, with the Chinese period word written right before it."""
    if match := scanner.take(_EN_MERIDIEM):
        hour = int(match[1])
        if not 1 <= hour <= 12:
            return None, None
        hour = hour % 12 + (12 if match[3].lower() == "p" else 0)
        return _Clock(hour, int(match[2] or 0), fixed=True), None
    if match := scanner.take(_CLOCK):
        return _Clock(int(match[2]), int(match[3])), match[1]
    if match := scanner.take(_ZH_HOUR):
        spoken = cn_number(match[2])
        clock = None if spoken is None else _Clock(spoken, _zh_minute(match), bare=True)
        return clock, match[1]
    if match := scanner.take(_EN_OCLOCK) or scanner.take(_EN_AT_HOUR):
        return _Clock(int(match[1]), 0, bare=True), None
    return None, None


def _hour_in_period(clock: _Clock, period: str | None) -> int:
    """The 24-hour clock hour meant by a clock time said with (or without) a period word."""
    hour = clock.hour
    if clock.fixed:
        return hour
    if period in ("afternoon", "evening"):
        return hour + 12 if hour < 12 else hour
    if period == "noon":
        # 中午1点 is 13:00, 中午12点 is noon.
        return hour + 12 if hour <= 2 else hour
    if period in ("early", "morning", "midnight"):
        return 0 if hour == 12 else hour
    # Nobody books lunch at 3 a.m.: "at 3" / "3点" alone is the afternoon.
    if clock.bare and 1 <= hour <= 6:
        return hour + 12
    return hour


def parse_when(text: str, today: date) -> tuple[When, str]:
    """The date and time named in `text` (English or Chinese), and the text without them."""
    normalised = _EN_TONIGHT.sub("today evening", text)
    for short, long in _NORMALISE:
        normalised = normalised.replace(short, long)
    scanner = _Scanner(normalised)
    day, span = _take_day(scanner, today)
    clock, period_word = _take_clock(scanner)
    if period_word is None and (match := scanner.take(_ZH_PERIOD) or scanner.take(_EN_PERIOD)):
        period_word = match[1]
    period = _PERIODS.get((period_word or "").lower())
    hour: int | None
    minute = 0
    if clock is not None:
        hour, minute = _hour_in_period(clock, period), clock.minute
    else:
        hour = _PERIOD_HOUR.get(period) if period else None
    if hour is not None and not (0 <= hour <= 23 and 0 <= minute <= 59):
        hour, minute = None, 0
    has_clock = clock is not None and hour is not None
    return When(day, hour, minute, span, has_clock), scanner.text
