"""What the user asks for: `parse_intent` reads a message into an `Intent` with keyword and regex
rules, in English and Chinese.

The offline model has no language model behind it: rules are deterministic, easy to test, and good
enough to drive every assistant tool in demos and tests. Pure, like the date rules: "today" comes
from the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from agent_runtime.offline.dates import When, parse_when
from agent_runtime.offline.language import Lang, detect_language
from agent_runtime.offline.recurrence import drop_start_words, parse_all_day, parse_repeat
from agent_runtime.offline.repeat import Repeat
from agent_runtime.offline.titles import clean_target, tidy, title_en, title_zh

IntentKind = Literal[
    "create", "list", "delete", "update", "share", "friends", "inbox", "navigate", "help"
]


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
    target = clean_target(filler.sub("", tidy(clean_target(rest, lang))), lang)
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
    rest = polite.sub("", tidy(item.rest))
    match = verb.match(rest)
    if match is None:
        return None
    rest = rest[match.end() :]
    title = title_zh(rest) if lang == "zh" else title_en(rest)
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
        title = title_zh(_ZH_POLITE.sub("", tidy(item.rest)))
    else:
        named_days = repeat is not None and bool(repeat.weekdays or repeat.month_day)
        dated = (
            (when.day is not None or repeat is not None) and (when.has_clock or item.all_day)
        ) or named_days
        title = title_en(_EN_POLITE.sub("", tidy(item.rest)))
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
    return replace(base, new_title=title_en(new_text) or None)


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
        return replace(base, new_title=title_zh(new_text) or None)
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
