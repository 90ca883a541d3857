"""A new item's title and the words naming an existing item, from what is left of a request once
its dates, times and rules are cut out; how well such words match an item's title."""

from __future__ import annotations

import re

from agent_runtime.offline.language import CJK_CLASS, Lang

MAX_TITLE = 200

_PUNCTUATION = " \t\n.,;:!?~'\"“”‘’「」『』《》()（）【】，。；：！？、～…"
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
_SPACE_AROUND_CJK = re.compile(rf"\s*([{CJK_CLASS}])\s*")


def _strip_edge_words(text: str) -> str:
    """Drops prepositions and fillers left dangling at either end once dates are cut out."""
    words = text.split()
    while words and words[0].lower().strip(_PUNCTUATION) in _EN_EDGE_WORDS:
        words.pop(0)
    while words and words[-1].lower().strip(_PUNCTUATION) in _EN_EDGE_WORDS:
        words.pop()
    return " ".join(words)


def tidy(text: str) -> str:
    text = " ".join(text.replace("'s ", " ").split()).strip(_PUNCTUATION)
    return _SPACE_AROUND_CJK.sub(r"\1", text)


def title_en(rest: str) -> str:
    title = _EN_TITLE_TAIL.sub("", tidy(rest))
    title = _strip_edge_words(_EN_TITLE_LEAD.sub("", title)).strip(_PUNCTUATION)
    return title[:1].upper() + title[1:MAX_TITLE]


def title_zh(rest: str) -> str:
    title = _ZH_TITLE_LEAD.sub("", tidy(rest))
    title = _ZH_TITLE_TAIL.sub("", title) or title
    return title.strip(_PUNCTUATION)[:MAX_TITLE]


def clean_target(text: str, lang: Lang) -> str:
    """The words naming an existing item, without fillers ("the", "my", "把", "一下")."""
    text = tidy(text)
    if lang == "zh":
        text = _ZH_TARGET_LEAD.sub("", text)
        return _ZH_TARGET_TAIL.sub("", text).strip(_PUNCTUATION)
    return _strip_edge_words(text).strip(_PUNCTUATION)


_STOP_TOKENS = frozenset(
    {"the", "a", "an", "my", "with", "and", "of", "to", "on", "at", "for", "in"}
    | {"的", "和", "与", "跟", "了", "个", "一", "我", "你", "在"}
)
_TOKEN = re.compile(rf"[a-z0-9]+|[{CJK_CLASS}]")


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
