"""Intent recognition and date/time parsing for the offline model, in English and Chinese.

The offline model has no language model behind it, so it understands the user with keyword and
regex rules: deterministic, easy to test, and good enough to drive every assistant tool in demos
and tests. Everything here is pure: "today" comes from the caller, so a result depends on the text
and the date alone.

Recognised expressions are cut out of the text as they are found (see `_Scanner`), so whatever is
left over is the item's title, or the words that name an existing item.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

from agent_runtime.offline_numbers import CN_NUM, cn_number
from agent_runtime.offline_recurrence import Repeat, drop_start_words, parse_all_day, parse_repeat

Lang = Literal["en", "zh"]
IntentKind = Literal[
    "create", "list", "delete", "update", "share", "friends", "inbox", "navigate", "help"
]

# When the user names no time at all, items start at nine in the morning.
DEFAULT_HOUR = 9
MAX_TITLE = 200

_CJK_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")


def detect_language(text: str) -> Lang:
    """Chinese as soon as the text holds a CJK ideograph: mixed text ("和Ann吃午饭") is Chinese."""
    return "zh" if _CJK.search(text) else "en"


# --------------------------------------------------------------------------------------------
# Dates and times
# --------------------------------------------------------------------------------------------


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


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_day(today: date, year: int | None, month: int, day: int) -> date | None:
    """A month and day without a year mean their next occurrence (today included)."""
    if year is not None:
        return _safe_date(year, month, day)
    found = _safe_date(today.year, month, day)
    if found is not None and found < today:
        found = _safe_date(today.year + 1, month, day)
    return found


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
        return _safe_date(int(match[1]), int(match[2]), int(match[3])), 1
    if match := scanner.take(_ZH_DATE):
        year = int(match[1]) if match[1] else None
        return _month_day(today, year, int(match[2]), int(match[3])), 1
    if match := scanner.take(_EN_DATE):
        month = _MONTHS_EN.index(match[1][:3].lower()) + 1
        return _month_day(today, None, month, int(match[2])), 1
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


# --------------------------------------------------------------------------------------------
# Titles and item names
# --------------------------------------------------------------------------------------------

_PUNCTUATION = " \t\n.,;:!?~'\"“”‘’「」『』《》()（）【】，。；：！？、～…"
_EN_POLITE = re.compile(
    r"^(?:(?:please|pls|hey|hi|ok|okay|can\s+you|could\s+you|would\s+you|will\s+you|i\s+want\s+to"
    r"|i'd\s+like\s+to|i\s+would\s+like\s+to|i\s+need\s+to|help\s+me|let's|lets)\s+)+",
    re.IGNORECASE,
)
_ZH_POLITE = re.compile(r"^(?:请|帮我|帮忙|麻烦你?|给我|我要|我想|我需要|想|要|在)+")
_EN_CREATE_VERB = re.compile(
    r"^(?:schedule|add|create|book|set\s+up|setup|plan|put|make|arrange|organi[sz]e|new"
    r"|remind\s+me(?:\s+(?:to|about|of))?)\b",
    re.IGNORECASE,
)
_ZH_CREATE_VERB = re.compile(
    r"^(?:添加|新建|创建|新增|安排|加一个|加个|提醒我|提醒|记一下|记得|预约|预定|约)"
)
_EN_TITLE_LEAD = re.compile(
    r"^(?:(?:an?|the|my|new|another)\s+)?(?:(?:event|item|appointment|entry|reminder)\s+"
    r"(?:called|named|titled|for|about)\s+)?",
    re.IGNORECASE,
)
_EN_TITLE_TAIL = re.compile(
    r"\s+(?:to|on|in|into)\s+(?:my|the)\s+(?:calendar|schedule|agenda)\b.*$", re.IGNORECASE
)
_ZH_TITLE_LEAD = re.compile(r"^(?:一个|一场|一次|个|的)+")
_ZH_TITLE_TAIL = re.compile(r"(?:的)?(?:日程|提醒|活动|事件)$|的$")
_EN_EDGE_WORDS = frozenset(
    {"on", "at", "for", "in", "from", "this", "next", "by", "to", "and", "the", "a", "an", "my"}
    | {"our", "it", "that", "please", "with", "calendar", "schedule", "agenda"}
)
_ZH_TARGET_LEAD = re.compile(r"^(?:请|帮我|麻烦|把|将|我的|的|这个|那个|一下|个)+")
_ZH_TARGET_TAIL = re.compile(r"(?:吧|吗|呢|一下|了|掉|的|日程|这个)+$")
_SPACE_AROUND_CJK = re.compile(rf"\s*([{_CJK_CLASS}])\s*")


def _strip_edge_words(text: str) -> str:
    """Drops prepositions and fillers left dangling at either end once dates are cut out."""
    words = text.split()
    while words and words[0].lower().strip(_PUNCTUATION) in _EN_EDGE_WORDS:
        words.pop(0)
    while words and words[-1].lower().strip(_PUNCTUATION) in _EN_EDGE_WORDS:
        words.pop()
    return " ".join(words)


def _tidy(text: str) -> str:
    text = " ".join(text.replace("'s ", " ").split()).strip(_PUNCTUATION)
    return _SPACE_AROUND_CJK.sub(r"\1", text)


def _title_en(rest: str) -> str:
    title = _EN_TITLE_TAIL.sub("", _tidy(rest))
    title = _strip_edge_words(_EN_TITLE_LEAD.sub("", title)).strip(_PUNCTUATION)
    return title[:1].upper() + title[1:MAX_TITLE]


def _title_zh(rest: str) -> str:
    title = _ZH_TITLE_LEAD.sub("", _tidy(rest))
    title = _ZH_TITLE_TAIL.sub("", title) or title
    return title.strip(_PUNCTUATION)[:MAX_TITLE]


def clean_target(text: str, lang: Lang) -> str:
    """The words naming an existing item, without fillers ("the", "my", "把", "一下")."""
    text = _tidy(text)
    if lang == "zh":
        text = _ZH_TARGET_LEAD.sub("", text)
        return _ZH_TARGET_TAIL.sub("", text).strip(_PUNCTUATION)
    return _strip_edge_words(text).strip(_PUNCTUATION)


_STOP_TOKENS = frozenset(
    {"the", "a", "an", "my", "with", "and", "of", "to", "on", "at", "for", "in"}
    | {"的", "和", "与", "跟", "了", "个", "一", "我", "你", "在"}
)
_TOKEN = re.compile(rf"[a-z0-9]+|[{_CJK_CLASS}]")


def _tokens(text: str) -> set[str]:
    return {token for token in _TOKEN.findall(text.lower()) if token not in _STOP_TOKENS}


def match_score(target: str, title: str) -> int:
    """How well `target` (the user's words) names an item called `title`: a whole-phrase match
    beats a partial one, which scores by shared words (or shared characters, for Chinese)."""
    wanted, name = " ".join(target.lower().split()), " ".join(title.lower().split())
    if not wanted or not name:
        return 0
    if wanted in name:
        return 1000 + len(wanted)
    if name in wanted:
        return 500 + len(name)
    return 10 * len(_tokens(wanted) & _tokens(name))


# --------------------------------------------------------------------------------------------
# Intents
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intent:
    """What the user asked for. `when` is the time of a new item, the new time of a moved one, or
    the range to list; `target` and `target_when` name an existing item to change."""

    kind: IntentKind
    lang: Lang
    title: str = ""
    when: When = field(default_factory=When)
    target: str = ""
    target_when: When = field(default_factory=When)
    new_title: str | None = None
    status: str | None = None
    email: str | None = None
    path: str | None = None
    # A new item's series ("every Monday") and whether it takes whole days ("all day").
    repeat: Repeat | None = None
    all_day: bool = False


_PAGES = {
    "calendar": "/calendar",
    "setting": "/settings",
    "preference": "/settings",
    "inbox": "/inbox",
    "friend": "/friends",
    "home": "/",
    "main": "/",
    "start": "/",
    "dashboard": "/",
    "日历": "/calendar",
    "日程表": "/calendar",
    "设置": "/settings",
    "收件箱": "/inbox",
    "消息": "/inbox",
    "好友": "/friends",
    "朋友": "/friends",
    "首页": "/",
    "主页": "/",
}
_EN_NAVIGATE = re.compile(
    r"\b(?:open|go\s+to|navigate\s+to|take\s+me\s+to|bring\s+me\s+to|switch\s+to|jump\s+to)"
    r"\s+(?:the\s+|my\s+)?(calendar|setting|preference|inbox|friend|home|main|start|dashboard)",
    re.IGNORECASE,
)
_EN_GO_HOME = re.compile(r"\bgo\s+(?:back\s+)?home\b", re.IGNORECASE)
_ZH_NAVIGATE = re.compile(
    r"(?:打开|前往|跳转到?|转到|切换到|进入|回到|去)\s*(?:我的)?\s*"
    r"(日历|日程表|设置|收件箱|消息|好友|朋友|首页|主页)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_EN_SHARE = re.compile(r"\b(?:share|invite|send)\b", re.IGNORECASE)
_ZH_SHARE = re.compile(r"(?:分享给|共享给|分享|共享|邀请|发给)")
_EN_SHARE_FILLER = re.compile(r"^(?:to|for|on|in)\s+|\s+(?:with|to)$", re.IGNORECASE)
_ZH_SHARE_FILLER = re.compile(r"^(?:参加|加入|一起)|给$")
_EN_DELETE = re.compile(r"\b(?:delete|remove|cancel|erase|drop)\b", re.IGNORECASE)
_ZH_DELETE = re.compile(r"(?:删除|删掉|删了|删去|取消|移除|去掉)")
_EN_MARK_DONE = re.compile(
    r"\bmark\s+(.+?)\s+(?:as\s+)?(?:done|complete|completed|finished)\b", re.IGNORECASE
)
_EN_RENAME = re.compile(r"\brename\s+(.+?)\s+(?:to|as)\s+(.+)$", re.IGNORECASE)
_EN_MOVE = re.compile(
    r"\b(move|reschedule|postpone|push|shift|change|delay|bring)\s+(.+?)\s+(?:to|until|till)\s+"
    r"(.+)$",
    re.IGNORECASE,
)
_ZH_UPDATE = re.compile(
    r"^(?:请|帮我|麻烦)*(?:把|将)?(.+?)(改名为|改名成|重命名为|改到|改成|改为|挪到|移到|推迟到|推到"
    r"|提前到|调到|换到|标记为)(.+)$"
)
_ZH_RENAME_VERBS = frozenset({"改名为", "改名成", "重命名为"})
_ZH_DONE = re.compile(r"^(?:已)?(?:完成|做完|结束)")
_EN_LIST = re.compile(
    r"\b(?:show|list|see|view|display|check|tell\s+me|read|give\s+me|what(?:'s|\s+is|\s+are))\b"
    r".*\b(?:schedule|calendar|agenda|events?|items?|appointments?|meetings?|plans?)\b"
    r"|\bwhat(?:'s|\s+is)\s+on\b|\bwhat\s+(?:do|did)\s+i\s+have\b|\bam\s+i\s+(?:free|busy)\b"
    r"|\bmy\s+(?:schedule|agenda|calendar|events|plans)\b|\banything\s+(?:on|planned|scheduled)\b",
    re.IGNORECASE,
)
_ZH_LIST = re.compile(
    r"(?:什么|哪些|啥|查看|看看|看一下|列出|显示|查询|查一下|查查|几个).*"
    r"(?:日程|安排|计划|行程|日历|活动|事|会议)|我的(?:日程|安排|行程|计划)|有空吗|忙吗"
)
_INBOX = re.compile(
    r"\b(?:inbox|invitations?|invites?|notifications?|messages?|requests?)\b"
    r"|收件箱|消息|邀请|通知|请求|申请",
    re.IGNORECASE,
)
_FRIENDS = re.compile(r"\b(?:friends?|buddies|contacts)\b|好友|朋友", re.IGNORECASE)
_EN_QUESTION = re.compile(
    r"\?|^(?:what|when|where|who|why|how|is|are|do|does|did|can|could|should)\b", re.IGNORECASE
)
_ZH_QUESTION = re.compile(r"[吗呢？?]|什么|怎么|哪|几|多少|是否|有没有")


_Recogniser = Callable[[str, Lang, date], Intent | None]


def _navigate(text: str, lang: Lang, today: date) -> Intent | None:
    del today  # pages are not dated
    match = _ZH_NAVIGATE.search(text) or _EN_NAVIGATE.search(text)
    if match is not None:
        return Intent("navigate", lang, path=_PAGES[match[1].lower()])
    if _EN_GO_HOME.search(text):
        return Intent("navigate", lang, path="/")
    return None


def _share(text: str, lang: Lang, today: date) -> Intent | None:
    email = _EMAIL.search(text)
    verbs = _ZH_SHARE if lang == "zh" else _EN_SHARE
    if email is None or not verbs.search(text):
        return None
    rest = verbs.sub(" ", _EMAIL.sub(" ", text), count=1)
    when, rest = parse_when(rest, today)
    filler = _ZH_SHARE_FILLER if lang == "zh" else _EN_SHARE_FILLER
    target = clean_target(filler.sub("", _tidy(clean_target(rest, lang))), lang)
    return Intent("share", lang, target=target, target_when=when, email=email[0])


@dataclass(frozen=True, slots=True)
class _NewItem:
    """What a request to create an item says about it, and the words left for its title."""

    when: When
    repeat: Repeat | None
    all_day: bool
    rest: str

    def intent(self, lang: Lang, title: str) -> Intent:
        return Intent(
            "create", lang, title=title, when=self.when, repeat=self.repeat, all_day=self.all_day
        )


def _read_new_item(text: str, lang: Lang, today: date) -> _NewItem:
    """The series and all-day words are cut out first: "每周一" must not read as "周一", nor
    "until Dec 31" as the item's day."""
    repeat, text = parse_repeat(text, today, lang)
    all_day, text = parse_all_day(text, lang)
    when, rest = parse_when(text, today)
    if repeat is not None:
        rest = drop_start_words(rest, lang)
    return _NewItem(when, repeat, all_day, rest)


def _create_explicit(text: str, lang: Lang, today: date) -> Intent | None:
    """A request that starts with a create verb ("schedule ...", "remind me to ...", "添加...")."""
    item = _read_new_item(text, lang, today)
    polite, verb = (_ZH_POLITE, _ZH_CREATE_VERB) if lang == "zh" else (_EN_POLITE, _EN_CREATE_VERB)
    rest = polite.sub("", _tidy(item.rest))
    match = verb.match(rest)
    if match is None:
        return None
    rest = rest[match.end() :]
    title = _title_zh(rest) if lang == "zh" else _title_en(rest)
    # "schedule for tomorrow?" names nothing to create: let the other rules have it.
    return item.intent(lang, title) if title else None


def _create_implicit(text: str, lang: Lang, today: date) -> Intent | None:
    """A statement with a time and an activity and no verb ("后天下午3点开会", "team sync every
    Monday at 10"). English needs a day (or a series) and a clock time, or named days of a
    series, or a day all day, so that "good morning" stays a greeting."""
    question = _ZH_QUESTION if lang == "zh" else _EN_QUESTION
    if question.search(text):
        return None
    item = _read_new_item(text, lang, today)
    when, repeat = item.when, item.repeat
    if lang == "zh":
        dated = when.day is not None or when.has_clock or repeat is not None or item.all_day
        title = _title_zh(_ZH_POLITE.sub("", _tidy(item.rest)))
    else:
        named_days = repeat is not None and bool(repeat.weekdays or repeat.month_day)
        dated = (
            (when.day is not None or repeat is not None) and (when.has_clock or item.all_day)
        ) or named_days
        title = _title_en(_EN_POLITE.sub("", _tidy(item.rest)))
    return item.intent(lang, title) if dated and title else None


def _delete(text: str, lang: Lang, today: date) -> Intent | None:
    verb = (_ZH_DELETE if lang == "zh" else _EN_DELETE).search(text)
    if verb is None:
        return None
    rest = text[verb.end() :] if lang == "en" else text[: verb.start()] + " " + text[verb.end() :]
    when, rest = parse_when(rest, today)
    return Intent("delete", lang, target=clean_target(rest, lang), target_when=when)


def _update_en(text: str, today: date) -> Intent | None:
    if match := _EN_MARK_DONE.search(text):
        when, target = parse_when(match[1], today)
        target = clean_target(target, "en")
        return Intent("update", "en", target=target, target_when=when, status="completed")
    rename = _EN_RENAME.search(text)
    move = _EN_MOVE.search(text)
    if rename is not None:
        target_text, new_text = rename[1], rename[2]
    elif move is not None:
        target_text, new_text = move[2], move[3]
    else:
        return None
    target_when, target = parse_when(target_text, today)
    base = Intent("update", "en", target=clean_target(target, "en"), target_when=target_when)
    when, _ = parse_when(new_text, today)
    # "change X to 3pm" moves it, "change X to Team sync" renames it.
    if rename is None and not when.is_empty:
        return replace(base, when=when)
    return replace(base, new_title=_title_en(new_text) or None)


def _update_zh(text: str, today: date) -> Intent | None:
    match = _ZH_UPDATE.search(text)
    if match is None:
        return None
    target_when, target = parse_when(match[1], today)
    verb, new_text = match[2], match[3]
    base = Intent("update", "zh", target=clean_target(target, "zh"), target_when=target_when)
    if verb == "标记为" or _ZH_DONE.match(new_text):
        return replace(base, status="completed")
    when, _ = parse_when(new_text, today)
    if verb in _ZH_RENAME_VERBS or (when.is_empty and verb in ("改成", "改为")):
        return replace(base, new_title=_title_zh(new_text) or None)
    return replace(base, when=when)


def _update(text: str, lang: Lang, today: date) -> Intent | None:
    return _update_zh(text, today) if lang == "zh" else _update_en(text, today)


def _list(text: str, lang: Lang, today: date) -> Intent | None:
    if not (_ZH_LIST if lang == "zh" else _EN_LIST).search(text):
        return None
    when, _ = parse_when(text, today)
    return Intent("list", lang, when=When(when.day, span_days=when.span_days))


def _keyword(kind: IntentKind, pattern: re.Pattern[str]) -> _Recogniser:
    def recognise(text: str, lang: Lang, today: date) -> Intent | None:
        del today  # friends and inbox are not dated
        return Intent(kind, lang) if pattern.search(text) else None

    return recognise


# Order matters: the most specific rules first ("share ... with a@b.c" before "add", "remind me to
# cancel ..." is a new item, "friend requests" are the inbox, not the friends list).
_RECOGNISERS: tuple[_Recogniser, ...] = (
    _navigate,
    _share,
    _create_explicit,
    _delete,
    _update,
    _list,
    _keyword("inbox", _INBOX),
    _keyword("friends", _FRIENDS),
    _create_implicit,
)


def parse_intent(text: str, today: date) -> Intent:
    """What the user's message asks for; `help` when no rule recognises it."""
    clean = " ".join(text.split())
    lang = detect_language(clean)
    if clean:
        for recognise in _RECOGNISERS:
            intent = recognise(clean, lang, today)
            if intent is not None:
                return intent
    return Intent("help", lang)
