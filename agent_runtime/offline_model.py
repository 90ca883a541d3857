"""A deterministic, network-free chat model: the assistant for offline demos and tests.

It reads the conversation the way a language model would, but with rules (`offline_intents`):
the last user message becomes at most one tool call or a text answer, and tool results become a
short summary in the user's language. Changing or sharing an existing item takes two turns, as it
would for a real model: list the items first, then act on the one whose title matches.

Apart from tool call ids the output depends only on the request, and the model never raises:
whatever it cannot follow gets a polite text answer, because a broken demo model would end the
run with an error the user cannot do anything about.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ag_ui.core import AssistantMessage, Message, TextPart, ToolCall, ToolMessage, UserMessage

from agent_runtime.chat_model import ModelChunk, ModelRequest, TextDelta, ToolCallDelta
from agent_runtime.offline_intents import (
    DEFAULT_HOUR,
    Intent,
    Lang,
    When,
    detect_language,
    match_score,
    parse_intent,
)
from agent_runtime.offline_rule_text import describe_rule
from agent_runtime.tool_specs import (
    CREATE_SCHEDULE_ITEM,
    DELETE_SCHEDULE_ITEM,
    LIST_FRIENDS,
    LIST_INBOX_MESSAGES,
    LIST_SCHEDULE_ITEMS,
    NAVIGATE_ROUTE,
    SHARE_SCHEDULE_ITEM,
    UPDATE_SCHEDULE_ITEM,
)

JsonObject = dict[str, Any]

# New items last an hour unless they say otherwise.
DEFAULT_DURATION = timedelta(hours=1)
# Summaries name this many items at most, so a long list stays a short answer.
MAX_LISTED = 8

# The tool that acts on an existing item once the list shows which one the user meant.
_FOLLOW_UP = {
    "delete": DELETE_SCHEDULE_ITEM,
    "update": UPDATE_SCHEDULE_ITEM,
    "share": SHARE_SCHEDULE_ITEM,
}
_SIMPLE_TOOLS = {"friends": LIST_FRIENDS, "inbox": LIST_INBOX_MESSAGES}


@dataclass(frozen=True, slots=True)
class TextReply:
    text: str


@dataclass(frozen=True, slots=True)
class ToolReply:
    name: str
    arguments: JsonObject


Reply = TextReply | ToolReply


def _say(lang: Lang, english: str, chinese: str) -> str:
    return chinese if lang == "zh" else english


def _help(lang: Lang) -> str:
    return _say(
        lang,
        "I'm the offline assistant, so I understand simple requests only. Try: "
        '"schedule lunch with Ann tomorrow at 12", "what\'s on my schedule tomorrow", '
        '"team sync every Monday at 10", "conference all day tomorrow", '
        '"move lunch with Ann to 1pm", "delete lunch with Ann", '
        '"share lunch with ann@example.com", "who are my friends", "check my inbox" '
        'or "open the calendar".',
        "我是离线助手，只能理解简单的请求。可以试试：“明天中午12点和Ann吃午饭”“明天有什么安排”"
        "“每周一上午十点例会”“明天全天培训”"
        "“把午饭改到下午1点”“删除午饭”“把午饭分享给 ann@example.com”“我的好友”“收件箱”"
        "或“打开日历”。",
    )


def _unavailable(lang: Lang, tool: str) -> str:
    return _say(
        lang,
        f"I can't do that here: the {tool} tool isn't available in this conversation.",
        f"这里做不到：当前对话没有提供 {tool} 工具。",
    )


# --------------------------------------------------------------------------------------------
# Reading the conversation
# --------------------------------------------------------------------------------------------


def message_text(message: Message) -> str:
    """The text of a message: its string content, or its text parts joined (images ignored)."""
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.text for part in content if isinstance(part, TextPart))
    return ""


def _has_attachments(message: UserMessage) -> bool:
    """Whether the message carries parts other than text (images, documents, audio, video)."""
    content = message.content
    return isinstance(content, list) and any(not isinstance(p, TextPart) for p in content)


def _cannot_see(lang: Lang) -> str:
    return _say(
        lang,
        "I can't see images or read attached files; please tell me in words what you need.",
        "我看不到图片，也读不了附件；请用文字告诉我你需要什么。",
    )


def _last_user_text(messages: Sequence[Message], before: int | None = None) -> str:
    end = len(messages) if before is None else before
    for message in reversed(messages[:end]):
        if isinstance(message, UserMessage):
            return message_text(message)
    return ""


def _trailing_tool_results(messages: Sequence[Message]) -> list[ToolMessage]:
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.append(message)
    return results[::-1]


def _find_call(messages: Sequence[Message], call_id: str) -> tuple[int, ToolCall] | None:
    """The assistant tool call a result answers, and the index of the message that made it."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, AssistantMessage):
            for call in message.tool_calls or []:
                if call.id == call_id:
                    return index, call
    return None


def _json_object(text: str) -> JsonObject | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _objects(value: object) -> list[JsonObject]:
    """The dicts of a JSON list, skipping anything else a server might have put there."""
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


# --------------------------------------------------------------------------------------------
# Dates in and out
# --------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _parse_iso(value: object, zone: tzinfo) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)


_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _show_time(value: object, zone: tzinfo, lang: Lang) -> str:
    """A start time as people read it: "Sat Mar 7, 12:00" / "3月7日 周六 12:00"."""
    moment = _parse_iso(value, zone)
    if moment is None:
        return str(value or "")
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if lang == "zh":
        return f"{moment.month}月{moment.day}日 {_WEEKDAY_ZH[moment.weekday()]} {clock}"
    return f"{_WEEKDAY_EN[moment.weekday()]} {moment:%b} {moment.day}, {clock}"


def _show_day(value: str, lang: Lang) -> str:
    """An all-day item's day: "Fri Mar 6, all day" / "3月6日 周五 全天"."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    if lang == "zh":
        return f"{day.month}月{day.day}日 {_WEEKDAY_ZH[day.weekday()]} 全天"
    return f"{_WEEKDAY_EN[day.weekday()]} {day:%b} {day.day}, all day"


# --------------------------------------------------------------------------------------------
# One turn
# --------------------------------------------------------------------------------------------


class _Turn:
    """Decides one assistant turn from a request."""

    def __init__(self, request: ModelRequest) -> None:
        self.messages = list(request.messages)
        self.tools = {tool.name for tool in request.tools}
        self.zone = _zone(request.timezone)
        now = request.now if request.now.tzinfo else request.now.replace(tzinfo=UTC)
        self.now = now.astimezone(self.zone)
        self.today: date = self.now.date()
        self.lang = detect_language(_last_user_text(self.messages))

    def reply(self) -> Reply:
        last = self.messages[-1] if self.messages else None
        if isinstance(last, ToolMessage):
            return self._after_tools()
        if isinstance(last, UserMessage):
            if _has_attachments(last):
                return TextReply(_cannot_see(self.lang))
            return self._answer(parse_intent(message_text(last), self.today))
        return TextReply(_help(self.lang))

    def _at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone)

    def _timezone_name(self) -> str:
        return str(getattr(self.zone, "key", "UTC"))

    # -- the user's request --------------------------------------------------------------

    def _answer(self, intent: Intent) -> Reply:
        if intent.kind == "create":
            return self._tool(CREATE_SCHEDULE_ITEM, self._create_arguments(intent))
        if intent.kind == "list":
            return self._tool(LIST_SCHEDULE_ITEMS, self._range_arguments(intent.when))
        if intent.kind in _FOLLOW_UP:
            return self._start_lookup(intent)
        if intent.kind in _SIMPLE_TOOLS:
            return self._tool(_SIMPLE_TOOLS[intent.kind], {})
        if intent.kind == "navigate" and intent.path is not None:
            if NAVIGATE_ROUTE not in self.tools:
                return TextReply(
                    _say(
                        self.lang,
                        f"I can't open pages from here; please go to {intent.path} yourself.",
                        f"这里无法帮你打开页面，请手动前往 {intent.path}。",
                    )
                )
            return self._tool(NAVIGATE_ROUTE, {"path": intent.path})
        return TextReply(_help(self.lang))

    def _tool(self, name: str, arguments: JsonObject) -> Reply:
        """A call of `name`, or a text answer when the client did not offer that tool."""
        if name not in self.tools:
            return TextReply(_unavailable(self.lang, name))
        return ToolReply(name, arguments)

    def _create_arguments(self, intent: Intent) -> JsonObject:
        when, repeat = intent.when, intent.repeat
        hour = DEFAULT_HOUR if when.hour is None else when.hour
        day = when.day or self.today
        if repeat is not None:
            # A series starts with its first occurrence (the server requires it); "every day
            # at 9" said at ten starts tomorrow, unless the user named the first day.
            day = repeat.first_day(day)
            passed = not intent.all_day and self._at(day, hour, when.minute) <= self.now
            if when.day is None and passed:
                day = repeat.first_day(day + timedelta(days=1))
        arguments: JsonObject = {"title": intent.title or _say(self.lang, "Event", "日程")}
        if intent.all_day:
            # Whole days, the end exclusive: "all day next week" is its seven days.
            days = when.span_days if repeat is None else 1
            end = day + timedelta(days=days)
            arguments |= {"startAt": day.isoformat(), "endAt": end.isoformat(), "allDay": True}
        else:
            start = self._at(day, hour, when.minute)
            arguments |= {"startAt": _iso(start), "endAt": _iso(start + DEFAULT_DURATION)}
        arguments["timezone"] = self._timezone_name()
        if repeat is not None:
            arguments["recurrence"] = repeat.rule(day)
        return arguments

    def _range_arguments(self, when: When) -> JsonObject:
        if when.day is None:
            return {}
        start = self._at(when.day, 0)
        end = self._at(when.day + timedelta(days=when.span_days), 0)
        return {"startAt": _iso(start), "endAt": _iso(end)}

    def _start_lookup(self, intent: Intent) -> Reply:
        """Changing an item needs its id: list the items first (the result comes back next turn)."""
        follow_up = _FOLLOW_UP[intent.kind]
        if follow_up not in self.tools:
            return TextReply(_unavailable(self.lang, follow_up))
        if intent.kind == "update" and not _has_changes(intent):
            return TextReply(
                _say(
                    self.lang,
                    'Tell me what to change, e.g. "move lunch with Ann to 1pm" or '
                    '"rename lunch to brunch".',
                    "请告诉我要改什么，例如“把午饭改到下午1点”或“把午饭改名为晚饭”。",
                )
            )
        return self._tool(LIST_SCHEDULE_ITEMS, {})

    # -- tool results --------------------------------------------------------------------

    def _after_tools(self) -> Reply:
        results = _trailing_tool_results(self.messages)
        calls = [_find_call(self.messages, result.tool_call_id) for result in results]
        # A listing made for "delete/move/share X" is a step of that request, not an answer.
        found = calls[0] if len(results) == 1 else None
        if found is not None and found[1].function.name == LIST_SCHEDULE_ITEMS:
            intent = parse_intent(_last_user_text(self.messages, before=found[0]), self.today)
            if intent.kind in _FOLLOW_UP:
                return self._follow_up(intent, results[0])
        summaries = [
            self._summarise(result, None if found is None else found[1])
            for result, found in zip(results, calls, strict=True)
        ]
        return TextReply(_say(self.lang, " ", "").join(summaries))

    def _follow_up(self, intent: Intent, result: ToolMessage) -> Reply:
        payload = _json_object(message_text(result))
        if payload is None or payload.get("ok") is not True or result.error:
            return TextReply(self._summarise(result, None))
        items = _objects(payload.get("items"))
        item = self._choose(intent, items)
        if item is None:
            return TextReply(self._not_found(intent, items))
        arguments: JsonObject = {"id": str(item.get("id", ""))}
        if intent.kind == "share":
            arguments["email"] = intent.email or ""
        elif intent.kind == "update":
            arguments |= self._changes(intent, item)
        return self._tool(_FOLLOW_UP[intent.kind], arguments)

    def _choose(self, intent: Intent, items: list[JsonObject]) -> JsonObject | None:
        """The item the user's words name best; a named day breaks ties and can name it alone.
        With no words and a single item there is nothing to choose between."""
        best: JsonObject | None = None
        best_score = 0
        for item in items:
            score = match_score(intent.target, str(item.get("title", "")))
            start = _parse_iso(item.get("startAt"), self.zone)
            day = intent.target_when.day
            if day is not None and start is not None and start.date() == day:
                score += 5
            if score > best_score:
                best, best_score = item, score
        if best is None and not intent.target and intent.target_when.is_empty and len(items) == 1:
            return items[0]
        return best

    def _changes(self, intent: Intent, item: JsonObject) -> JsonObject:
        changes: JsonObject = {}
        if intent.new_title:
            changes["title"] = intent.new_title
        if intent.status:
            changes["status"] = intent.status
        if item.get("allDay") is True and intent.when.day is not None:
            changes |= _moved_days(intent.when.day, item)
        elif not intent.when.is_empty:
            start, end = self._moved(intent.when, item)
            changes |= {"startAt": _iso(start), "endAt": _iso(end)}
        return changes

    def _moved(self, when: When, item: JsonObject) -> tuple[datetime, datetime]:
        """The new start and end: what the user named replaces the old day or time of day, and
        the item keeps its length."""
        old_start = _parse_iso(item.get("startAt"), self.zone)
        old_end = _parse_iso(item.get("endAt"), self.zone)
        duration = DEFAULT_DURATION
        if old_start is not None and old_end is not None and old_end > old_start:
            duration = old_end - old_start
        base = old_start or self._at(self.today, DEFAULT_HOUR)
        day = when.day or base.date()
        hour, minute = (base.hour, base.minute) if when.hour is None else (when.hour, when.minute)
        start = self._at(day, hour, minute)
        return start, start + duration

    def _not_found(self, intent: Intent, items: list[JsonObject]) -> str:
        titles = [str(item.get("title", "")) for item in items[:MAX_LISTED]]
        wanted = intent.target or _say(self.lang, "that", "这个")
        if not titles:
            return _say(
                self.lang,
                f'Nothing matched "{wanted}": your schedule is empty.',
                f"没有找到与「{wanted}」匹配的日程：你的日程是空的。",
            )
        return _say(
            self.lang,
            f'Nothing matched "{wanted}". Your items: {", ".join(titles)}.',
            f"没有找到与「{wanted}」匹配的日程。你的日程有：{'、'.join(titles)}。",
        )

    # -- summaries -----------------------------------------------------------------------

    def _summarise(self, result: ToolMessage, call: ToolCall | None) -> str:
        name = call.function.name if call is not None else ""
        arguments = _json_object(call.function.arguments) if call is not None else None
        text = message_text(result)
        payload = _json_object(text)
        if result.error:
            return self._failed(result.error)
        if payload is None:
            return self._plain_result(name, arguments or {}, text)
        if payload.get("rejected") is True:
            return self._rejected(name, payload.get("reason"))
        if payload.get("ok") is False:
            return self._failed(payload.get("error"))
        summarise = _SUMMARIES.get(name)
        if summarise is None:
            return self._plain_result(name, arguments or {}, text)
        return summarise(self, payload, arguments or {})

    def _failed(self, error: object) -> str:
        reason = str(error or _say(self.lang, "unknown error", "未知错误"))
        return _say(self.lang, f"That didn't work: {reason}", f"操作没有成功：{reason}")

    def _rejected(self, name: str, reason: object) -> str:
        english, chinese = _ACTIONS.get(name, (f"run {name}", f"执行 {name}"))
        text = _say(self.lang, f"OK, I did not {english}.", f"好的，没有{chinese}。")
        if isinstance(reason, str) and reason.strip():
            text += _say(self.lang, f" Reason: {reason.strip()}", f"原因：{reason.strip()}")
        return text

    def _plain_result(self, name: str, arguments: JsonObject, text: str) -> str:
        """A result that is not the server's JSON: most likely a frontend tool's answer."""
        if name == NAVIGATE_ROUTE:
            path = str(arguments.get("path", "")) or text
            return _say(self.lang, f"Opened {path}.", f"已为你打开 {path}。")
        snippet = " ".join(text.split())[:200]
        if not snippet:
            return _say(self.lang, "Done.", "完成了。")
        return _say(self.lang, f"Done: {snippet}", f"完成：{snippet}")

    def _summarise_items(self, payload: JsonObject, arguments: JsonObject) -> str:
        items = _objects(payload.get("items"))
        if not items:
            if "startAt" in arguments:
                day = _show_time(arguments["startAt"], self.zone, self.lang).rsplit(" ", 1)[0]
                return _say(self.lang, f"Nothing scheduled for {day}.", f"{day}没有日程。")
            return _say(self.lang, "Your schedule is empty.", "你还没有任何日程。")
        entries = [self._item_entry(item) for item in items[:MAX_LISTED]]
        more = len(items) - len(entries)
        if self.lang == "zh":
            tail = f"，另有 {more} 个" if more else ""
            return f"你有 {len(items)} 个日程：{'；'.join(entries)}{tail}。"
        noun = "item" if len(items) == 1 else "items"
        tail = f"; and {more} more" if more else ""
        return f"You have {len(items)} {noun}: {'; '.join(entries)}{tail}."

    def _show_when(self, item: JsonObject) -> str:
        """When an item (or occurrence) starts; an all-day one by its day, in its own zone."""
        if item.get("allDay") is True and isinstance(item.get("startDate"), str):
            return _show_day(str(item["startDate"]), self.lang)
        return _show_time(item.get("startAt"), self.zone, self.lang)

    def _item_entry(self, item: JsonObject) -> str:
        title = str(item.get("title") or _say(self.lang, "(untitled)", "（无标题）"))
        when = self._show_when(item)
        status = item.get("status")
        extra = f", {status}" if isinstance(status, str) and status != "active" else ""
        return _say(self.lang, f"{title} ({when}{extra})", f"{title}（{when}{extra}）")

    def _summarise_saved(self, payload: JsonObject, arguments: JsonObject, created: bool) -> str:
        item = payload.get("item")
        item = item if isinstance(item, dict) else arguments
        title = str(item.get("title") or "")
        when = self._show_when(item) if item.get("startAt") else ""
        rule = item.get("recurrence")
        repeats = describe_rule(rule, self.zone, self.lang) if isinstance(rule, str) else ""
        if self.lang == "zh":
            verb = "已创建" if created else "已更新"
            text = f"{verb}「{title}」" + (f"，时间：{when}" if when else "")
            return text + (f"，重复：{repeats}。" if repeats else "。")
        verb = "Created" if created else "Updated"
        text = f'{verb} "{title}"' + (f" for {when}" if when else "")
        return text + (f", repeating {repeats}." if repeats else ".")

    def _summarise_created(self, payload: JsonObject, arguments: JsonObject) -> str:
        return self._summarise_saved(payload, arguments, created=True)

    def _summarise_updated(self, payload: JsonObject, arguments: JsonObject) -> str:
        return self._summarise_saved(payload, arguments, created=False)

    def _summarise_deleted(self, payload: JsonObject, arguments: JsonObject) -> str:
        del payload, arguments  # the server only echoes the id
        return _say(self.lang, "Deleted the item.", "已删除该日程。")

    def _summarise_shared(self, payload: JsonObject, arguments: JsonObject) -> str:
        email = str(arguments.get("email") or "")
        message = payload.get("message")
        if self.lang == "zh":
            return f"已分享给 {email}。" if email else "已分享。"
        if isinstance(message, str) and message.strip():
            return f"Shared: {message.strip()}"
        return f"Shared it with {email}." if email else "Shared it."

    def _summarise_friends(self, payload: JsonObject, arguments: JsonObject) -> str:
        del arguments
        names = [_person(friend) for friend in _objects(payload.get("friends"))]
        if not names:
            return _say(self.lang, "You have no friends here yet.", "你还没有好友。")
        shown = names[:MAX_LISTED]
        more = len(names) - len(shown)
        if self.lang == "zh":
            return f"你有 {len(names)} 位好友：{'、'.join(shown)}" + (" 等" if more else "") + "。"
        tail = f" and {more} more" if more else ""
        return f"Your friends: {', '.join(shown)}{tail}."

    def _summarise_inbox(self, payload: JsonObject, arguments: JsonObject) -> str:
        del arguments
        messages = _objects(payload.get("messages"))
        if not messages:
            return _say(self.lang, "Your inbox is empty.", "收件箱是空的。")
        entries = [self._inbox_entry(message) for message in messages[:MAX_LISTED]]
        more = len(messages) - len(entries)
        if self.lang == "zh":
            tail = f"，另有 {more} 条" if more else ""
            return f"收件箱有 {len(messages)} 条消息：{'；'.join(entries)}{tail}。"
        noun = "message" if len(messages) == 1 else "messages"
        tail = f"; and {more} more" if more else ""
        return f"You have {len(messages)} inbox {noun}: {'; '.join(entries)}{tail}."

    def _inbox_entry(self, message: JsonObject) -> str:
        kind = str(message.get("messageType") or "message").replace("_", " ").lower()
        sender = _person(message.get("sender"))
        status = str(message.get("status") or "")
        content = " ".join(str(message.get("content") or "").split())[:80]
        if self.lang == "zh":
            text = f"来自 {sender} 的 {kind}" + (f"（{status}）" if status else "")
            return text + (f"：{content}" if content else "")
        text = f"{kind} from {sender}" + (f" ({status})" if status else "")
        return text + (f": {content}" if content else "")


def _moved_days(day: date, item: JsonObject) -> JsonObject:
    """An all-day item moved to `day` keeps its number of days (it takes dates, not times)."""
    days = 1
    try:
        first = date.fromisoformat(str(item.get("startDate")))
        days = max(1, (date.fromisoformat(str(item.get("endDate"))) - first).days)
    except ValueError:
        pass  # no dates in the listing: one day
    return {"startAt": day.isoformat(), "endAt": (day + timedelta(days=days)).isoformat()}


def _has_changes(intent: Intent) -> bool:
    return bool(intent.new_title or intent.status or not intent.when.is_empty)


def _person(value: object) -> str:
    """A user as the server describes one: a name string or an object with a username."""
    if isinstance(value, dict):
        for key in ("username", "name", "email", "id"):
            if value.get(key):
                return str(value[key])
    if isinstance(value, str) and value:
        return value
    return "?"


_ACTIONS = {
    CREATE_SCHEDULE_ITEM: ("create the item", "创建日程"),
    UPDATE_SCHEDULE_ITEM: ("change the item", "修改日程"),
    DELETE_SCHEDULE_ITEM: ("delete the item", "删除日程"),
    SHARE_SCHEDULE_ITEM: ("share the item", "分享日程"),
    NAVIGATE_ROUTE: ("open the page", "打开页面"),
}
_SUMMARIES = {
    LIST_SCHEDULE_ITEMS: _Turn._summarise_items,
    CREATE_SCHEDULE_ITEM: _Turn._summarise_created,
    UPDATE_SCHEDULE_ITEM: _Turn._summarise_updated,
    DELETE_SCHEDULE_ITEM: _Turn._summarise_deleted,
    SHARE_SCHEDULE_ITEM: _Turn._summarise_shared,
    LIST_FRIENDS: _Turn._summarise_friends,
    LIST_INBOX_MESSAGES: _Turn._summarise_inbox,
}


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------

_PIECES = re.compile(r"\S+\s*|\s+")


def _groups(pieces: Sequence[str], count: int) -> list[str]:
    """`pieces` joined into at most `count` consecutive chunks of similar size."""
    if not pieces:
        return []
    size = -(-len(pieces) // max(1, min(count, len(pieces))))
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


def split_text(text: str, count: int) -> list[str]:
    """Text in word-sized chunks; Chinese, which has no spaces, in character runs."""
    words = _PIECES.findall(text)
    return _groups(words if len(words) >= count else list(text), count)


def _safe_language(request: ModelRequest) -> Lang:
    try:
        return detect_language(_last_user_text(list(request.messages)))
    except Exception:  # the English fallback answer is good enough
        return "en"


class OfflineModel:
    """The `ChatModel` that needs no network: rule-based, deterministic apart from call ids.

    `text_chunks` and `argument_chunks` set how many deltas a text answer and a tool call's
    arguments are streamed in, so the executor's streaming is exercised as with a real model."""

    name = "offline"

    def __init__(self, *, text_chunks: int = 4, argument_chunks: int = 3) -> None:
        self._text_chunks = max(1, text_chunks)
        self._argument_chunks = max(1, argument_chunks)

    def decide(self, request: ModelRequest) -> Reply:
        """The turn's answer, computed before anything is streamed."""
        try:
            return _Turn(request).reply()
        except Exception:  # any odd input gets an answer, never a failed run
            lang = _safe_language(request)
            return TextReply(
                _say(
                    lang,
                    "Sorry, I couldn't follow that. " + _help("en"),
                    "抱歉，我没看懂。" + _help("zh"),
                )
            )

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        reply = self.decide(request)
        if isinstance(reply, ToolReply):
            call_id = "call_" + uuid.uuid4().hex[:24]
            arguments = json.dumps(reply.arguments, ensure_ascii=False)
            for piece in _groups(list(arguments), self._argument_chunks):
                yield ToolCallDelta(call_id=call_id, name=reply.name, arguments=piece)
                await asyncio.sleep(0)
            return
        for piece in split_text(reply.text, self._text_chunks):
            yield TextDelta(text=piece)
            await asyncio.sleep(0)
