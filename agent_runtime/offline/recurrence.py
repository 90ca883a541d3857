"""Repeating and all-day items in the offline model's requests, in English and Chinese.

"team sync every Monday at 10", "每周一上午十点例会", "every month on the 1st until Dec 31",
"每两周周五 共10次", "all day tomorrow", "明天全天": these expressions are cut out of the text
before its date and time are read (`dates.parse_when`), so that what is left names the item and,
if anything, the day and time of its first occurrence: then the `Repeat` can become an RRULE.

Pure, like `dates`: "today" comes from the caller.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Literal

from agent_runtime.offline.days import month_day, safe_date
from agent_runtime.offline.numbers import CN_NUM, EN_NUM, cn_number, en_number
from agent_runtime.offline.repeat import Frequency, Repeat

_WORKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
_WEEKEND: tuple[int, ...] = (5, 6)


def _next_weekday(today: date, weekday: int) -> date:
    """ "Until Friday": the next Friday after today."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _cut(text: str, match: re.Match[str]) -> str:
    """The text without the match; a space keeps the words on either side apart."""
    return f"{text[: match.start()]} {text[match.end() :]}"


# --------------------------------------------------------------------------------------------
# English
# --------------------------------------------------------------------------------------------

_EN_WEEKDAY = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)s?\b"
)
_EN_WEEKDAYS = rf"{_EN_WEEKDAY}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*[&/]\s*){_EN_WEEKDAY})*"
_EN_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EN_UNITS: dict[str, Frequency] = {
    "day": "DAILY",
    "week": "WEEKLY",
    "month": "MONTHLY",
    "year": "YEARLY",
}
_EN_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?\b"

_EN_EVERY = re.compile(
    rf"\b(?:every|each)\s+(?:(other|second|third|{EN_NUM})\s+)?"
    r"(?:(week\s*days?|work\s*days?|business\s+days?)|(weekends?)"
    rf"|(day|week|month|year)s?\b|({_EN_WEEKDAYS}))",
    re.IGNORECASE,
)
_EN_ADVERB = re.compile(
    r"\b(daily|everyday|weekly|fortnightly|bi-?weekly|monthly|yearly|annually)\b", re.IGNORECASE
)
_EN_ON_DAYS = re.compile(
    r"(?:\bon\s+)?\b(weekdays|weekends)\b"
    r"|\bon\s+((?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s"
    r"(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*[&/]\s*)"
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s)*)\b",
    re.IGNORECASE,
)
_EN_MONTH_DAY_OF_EVERY = re.compile(
    rf"\bon\s+the\s+{_EN_ORDINAL}(?:\s+day)?\s+of\s+(?:every|each|the)\s+month\b", re.IGNORECASE
)
# What may follow the frequency: its days ("every week on Monday and Wednesday", "monthly on
# the 1st").
_EN_DETAIL = re.compile(
    rf"^\s*,?\s*(?:(?:on\s+)?({_EN_WEEKDAYS})"
    r"|(?:on\s+(?:the\s+)?|the\s+)(\d{1,2})(?:st|nd|rd|th)?\b(?![:.]\d)(?:\s+day)?"
    r"|(\d{1,2})(?:st|nd|rd|th)\b(?:\s+day)?)",
    re.IGNORECASE,
)
# "monthly review on the 15th": a month's day may also come later in the sentence.
_EN_ON_MONTH_DAY = re.compile(r"\bon\s+the\s+(\d{1,2})(?:st|nd|rd|th)\b(?:\s+day)?", re.IGNORECASE)
_EN_ADVERBS: dict[str, tuple[Frequency, int]] = {
    "daily": ("DAILY", 1),
    "everyday": ("DAILY", 1),
    "weekly": ("WEEKLY", 1),
    "fortnightly": ("WEEKLY", 2),
    "biweekly": ("WEEKLY", 2),
    "bi-weekly": ("WEEKLY", 2),
    "monthly": ("MONTHLY", 1),
    "yearly": ("YEARLY", 1),
    "annually": ("YEARLY", 1),
}
_EN_INTERVAL_WORDS = {"other": 2, "second": 2, "third": 3}

_EN_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_EN_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_EN_UNTIL = re.compile(
    r"\b(?:until|till|til|through|thru|ending(?:\s+on)?|ends?\s+on)\s+(?:the\s+)?(?:"
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    rf"|{_EN_MONTH}\s+{_EN_ORDINAL}(?:,?\s+(\d{{4}}))?"
    rf"|{_EN_ORDINAL}\s+(?:of\s+)?{_EN_MONTH}(?:,?\s+(\d{{4}}))?"
    r"|(end\s+of\s+(?:the\s+)?year)"
    rf"|(?:next\s+)?({_EN_WEEKDAY})|(tomorrow))",
    re.IGNORECASE,
)
_EN_FOR = re.compile(
    rf"\b(?:for\s+(?:the\s+next\s+)?)?({EN_NUM})\s+(times|occurrences|sessions|meetings)\b"
    rf"|\bfor\s+(?:the\s+next\s+)?({EN_NUM})\s+(day|week|month|year)s?\b",
    re.IGNORECASE,
)
# "starting next Monday": the start day is read as any other day; the word itself is no title.
_EN_STARTING = re.compile(r"\b(?:starting|beginning)(?:\s+(?:on|from))?\b", re.IGNORECASE)


def _en_weekdays(text: str) -> tuple[int, ...]:
    found = re.findall(_EN_WEEKDAY, text, re.IGNORECASE)
    return tuple(sorted({_EN_WEEKDAY_NAMES.index(name[:3].lower()) for name in found}))


def _en_interval(word: str | None) -> int:
    if word is None:
        return 1
    return _EN_INTERVAL_WORDS.get(word.lower()) or en_number(word) or 1


def _en_detail(repeat: Repeat, text: str, after: int) -> tuple[Repeat, str]:
    """The days named right after a frequency, cut out as well."""
    detail = _EN_DETAIL.match(text[after:])
    if detail is None:
        return repeat, text
    if repeat.frequency == "WEEKLY" and detail[1]:
        repeat = replace(repeat, weekdays=_en_weekdays(detail[1]))
    elif repeat.frequency == "MONTHLY" and 1 <= int(detail[2] or detail[3] or 0) <= 31:
        repeat = replace(repeat, month_day=int(detail[2] or detail[3]))
    else:
        return repeat, text
    return repeat, f"{text[:after]} {text[after + detail.end() :]}"


def _en_frequency(text: str) -> tuple[Repeat | None, str]:
    if match := _EN_MONTH_DAY_OF_EVERY.search(text):
        day = int(match[1])
        if 1 <= day <= 31:
            return Repeat("MONTHLY", month_day=day), _cut(text, match)
    if match := _EN_EVERY.search(text):
        interval = _en_interval(match[1])
        if match[2]:
            repeat = Repeat("WEEKLY", interval, _WORKDAYS)
        elif match[3]:
            repeat = Repeat("WEEKLY", interval, _WEEKEND)
        elif match[4]:
            repeat = Repeat(_EN_UNITS[match[4].lower()], interval)
        else:
            repeat = Repeat("WEEKLY", interval, _en_weekdays(match[5]))
        repeat, text = _en_detail(repeat, text, match.end())
        return repeat, f"{text[: match.start()]} {text[match.end() :]}"
    if match := _EN_ADVERB.search(text):
        frequency, interval = _EN_ADVERBS[match[1].lower()]
        repeat, text = _en_detail(Repeat(frequency, interval), text, match.end())
        return repeat, f"{text[: match.start()]} {text[match.end() :]}"
    if match := _EN_ON_DAYS.search(text):
        if match[1]:
            days = _WORKDAYS if match[1].lower() == "weekdays" else _WEEKEND
        else:
            days = _en_weekdays(match[2])
        return Repeat("WEEKLY", weekdays=days), _cut(text, match)
    return None, text


def _en_month_day(repeat: Repeat, text: str) -> tuple[Repeat, str]:
    if repeat.frequency != "MONTHLY" or repeat.month_day is not None:
        return repeat, text
    match = _EN_ON_MONTH_DAY.search(text)
    if match is None or not 1 <= int(match[1]) <= 31:
        return repeat, text
    return replace(repeat, month_day=int(match[1])), _cut(text, match)


def _en_end(repeat: Repeat, text: str, today: date) -> tuple[Repeat, str]:
    if match := _EN_UNTIL.search(text):
        if match[1]:
            until = safe_date(int(match[1]), int(match[2]), int(match[3]))
        elif match[4]:
            month = _EN_MONTHS.index(match[4][:3].lower()) + 1
            year = int(match[6]) if match[6] else None
            until = month_day(today, year, month, int(match[5]))
        elif match[8]:
            month = _EN_MONTHS.index(match[8][:3].lower()) + 1
            year = int(match[9]) if match[9] else None
            until = month_day(today, year, month, int(match[7]))
        elif match[10]:
            until = date(today.year, 12, 31)
        elif match[11]:
            until = _next_weekday(today, _en_weekdays(match[11])[0])
        else:
            until = today + timedelta(days=1)
        if until is not None:
            return replace(repeat, until=until), _cut(text, match)
    if match := _EN_FOR.search(text):
        if match[1]:
            count = en_number(match[1])
            if count:
                return replace(repeat, count=count), _cut(text, match)
        else:
            span = en_number(match[3])
            if span:
                unit = _EN_UNITS[match[4].lower()]
                return replace(repeat, span=span, span_unit=unit), _cut(text, match)
    return repeat, text


# --------------------------------------------------------------------------------------------
# Chinese
# --------------------------------------------------------------------------------------------

_ZH_DAY = "[一二三四五六日天七1-7]"
_ZH_WEEK = "(?:周|星期|礼拜)"
_ZH_WEEKDAY_OF = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_ZH_WEEKDAY_OF |= {str(number): number - 1 for number in range(1, 8)}
_ZH_COUNT = rf"(\d{{1,3}}|{CN_NUM})"

# "工作日每天", "每个工作日": Monday to Friday; "周一到周五每天", "每周一至周三": a range.
_ZH_WORKDAYS = re.compile(r"(?:每个?)?工作日(?:的)?(?:每天)?")
_ZH_DAY_RANGE = re.compile(
    rf"(?:每个?)?{_ZH_WEEK}({_ZH_DAY})\s*(?:到|至|-|~)\s*{_ZH_WEEK}?({_ZH_DAY})(?:的)?(?:每天)?"
)
_ZH_WEEKENDS = re.compile(r"(?:每个?)?周末(?:的)?(?:每天)?")
_ZH_WEEKLY = re.compile(
    rf"每(?:{_ZH_COUNT}个?)?{_ZH_WEEK}(?:的)?"
    # "每周一次" is once a week, not every Monday.
    rf"((?:{_ZH_WEEK})?{_ZH_DAY}(?:\s*[、,，/和与及跟]?\s*(?:{_ZH_WEEK})?{_ZH_DAY})*(?!次))?"
)
_ZH_DAILY = re.compile(rf"每(?:{_ZH_COUNT}|一)?天|每日|天天")
_ZH_MONTHLY = re.compile(rf"每(?:{_ZH_COUNT}个|个)?月(?:的)?(?:(\d{{1,2}}|{CN_NUM})\s*[号日號])?")
_ZH_YEARLY = re.compile(r"每年|每一年")
_ZH_UNTIL = re.compile(
    rf"(?:到|至|直到|截至|截止到?)\s*(?:(?:(\d{{4}})年)?(\d{{1,2}}|{CN_NUM})月"
    rf"(\d{{1,2}}|{CN_NUM})[日号號]?|(年底|年末)|(下?)个?{_ZH_WEEK}({_ZH_DAY})|(明天))"
    r"\s*(?:为止|止|结束)?"
)
_ZH_TIMES = re.compile(rf"(?:共|一共|总共|重复)\s*{_ZH_COUNT}\s*次")
_ZH_SPAN = re.compile(
    rf"(?:持续|为期|连续|共|一共)\s*{_ZH_COUNT}\s*(?:个)?(周|星期|礼拜|天|日|月|年)"
)
_ZH_SPAN_UNITS: dict[str, Frequency] = {
    "周": "WEEKLY",
    "星期": "WEEKLY",
    "礼拜": "WEEKLY",
    "天": "DAILY",
    "日": "DAILY",
    "月": "MONTHLY",
    "年": "YEARLY",
}
# "从下周一开始": once the day is cut out, the words around it name nothing.
_ZH_STARTING = re.compile(r"(?:从|自)(?=\s)|(?<=\s)(?:开始|起)(?=\s|$|[，,。])")


def _zh_count(text: str | None) -> int:
    return (cn_number(text) or 1) if text else 1


def _zh_frequency(text: str) -> tuple[Repeat | None, str]:
    if match := _ZH_WORKDAYS.search(text):
        return Repeat("WEEKLY", weekdays=_WORKDAYS), _cut(text, match)
    if match := _ZH_DAY_RANGE.search(text):
        first, last = _ZH_WEEKDAY_OF[match[1]], _ZH_WEEKDAY_OF[match[2]]
        if first < last:
            return Repeat("WEEKLY", weekdays=tuple(range(first, last + 1))), _cut(text, match)
    if match := _ZH_WEEKENDS.search(text):
        return Repeat("WEEKLY", weekdays=_WEEKEND), _cut(text, match)
    if match := _ZH_WEEKLY.search(text):
        days = tuple(sorted({_ZH_WEEKDAY_OF[d] for d in re.findall(_ZH_DAY, match[2] or "")}))
        return Repeat("WEEKLY", _zh_count(match[1]), days), _cut(text, match)
    if match := _ZH_DAILY.search(text):
        return Repeat("DAILY", _zh_count(match[1])), _cut(text, match)
    if match := _ZH_MONTHLY.search(text):
        day = cn_number(match[2]) if match[2] else None
        if day is not None and not 1 <= day <= 31:
            return None, text
        return Repeat("MONTHLY", _zh_count(match[1]), month_day=day), _cut(text, match)
    if match := _ZH_YEARLY.search(text):
        return Repeat("YEARLY"), _cut(text, match)
    return None, text


def _zh_end(repeat: Repeat, text: str, today: date) -> tuple[Repeat, str]:
    if match := _ZH_UNTIL.search(text):
        if match[4]:
            until: date | None = date(today.year, 12, 31)
        elif match[6]:
            weekday = _ZH_WEEKDAY_OF[match[6]]
            # 下周三 is next week's Wednesday; 周三 the next Wednesday.
            monday = today + timedelta(days=7 - today.weekday())
            until = monday + timedelta(days=weekday) if match[5] else _next_weekday(today, weekday)
        elif match[7]:
            until = today + timedelta(days=1)
        else:
            month, day = cn_number(match[2]), cn_number(match[3])
            year = int(match[1]) if match[1] else None
            until = month_day(today, year, month, day) if month and day else None
        if until is not None:
            return replace(repeat, until=until), _cut(text, match)
    if match := _ZH_TIMES.search(text):
        return replace(repeat, count=_zh_count(match[1])), _cut(text, match)
    if match := _ZH_SPAN.search(text):
        unit = _ZH_SPAN_UNITS[match[2]]
        return replace(repeat, span=_zh_count(match[1]), span_unit=unit), _cut(text, match)
    return repeat, text


# --------------------------------------------------------------------------------------------
# Both languages
# --------------------------------------------------------------------------------------------


def parse_repeat(text: str, today: date, lang: Literal["en", "zh"]) -> tuple[Repeat | None, str]:
    """How the text says the item repeats (None: it does not), and the text without it."""
    if lang == "zh":
        repeat, text = _zh_frequency(text)
        if repeat is None:
            return None, text
        repeat, text = _zh_end(repeat, text, today)
        return repeat, text
    repeat, text = _en_frequency(text)
    if repeat is None:
        return None, text
    repeat, text = _en_month_day(repeat, text)
    repeat, text = _en_end(repeat, text, today)
    return repeat, _EN_STARTING.sub(" ", text)


def drop_start_words(text: str, lang: Literal["en", "zh"]) -> str:
    """ "从 … 开始" around a start day that was cut out (Chinese; English ones go with the rule)."""
    return _ZH_STARTING.sub(" ", text) if lang == "zh" else text


_EN_ALL_DAY = re.compile(
    r"\b(?:(?:for\s+)?(?:the\s+)?(?:whole|entire|full)[\s-]day|all[\s-]day(?:\s+long)?)\b",
    re.IGNORECASE,
)
_ZH_ALL_DAY = re.compile(r"(?:一整天|整整一天|全天|整天|全日)")


def parse_all_day(text: str, lang: Literal["en", "zh"]) -> tuple[bool, str]:
    """Whether the text makes the item all-day ("all day", "全天"), and the text without it."""
    match = (_ZH_ALL_DAY if lang == "zh" else _EN_ALL_DAY).search(text)
    return (False, text) if match is None else (True, _cut(text, match))
