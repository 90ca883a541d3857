"""One assistant turn of the offline model: the user's request becomes at most one tool call or a
text answer, and tool results become a summary. Changing or sharing an existing item takes two
turns, as it would for a real model: list the items first, then act on the one whose title
matches."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from ag_ui.core import ToolMessage, UserMessage

from agent_runtime.chat_model import ModelRequest
from agent_runtime.offline.conversation import (
    JsonObject,
    find_call,
    has_attachments,
    iso,
    json_object,
    last_user_text,
    message_text,
    objects,
    parse_iso,
    trailing_tool_results,
    zone_named,
)
from agent_runtime.offline.dates import When
from agent_runtime.offline.intents import Intent, parse_intent
from agent_runtime.offline.language import detect_language, say
from agent_runtime.offline.replies import (
    Reply,
    TextReply,
    ToolReply,
    ask_what_to_change,
    cannot_open,
    cannot_see,
    help_text,
    unavailable,
)
from agent_runtime.offline.summaries import Summariser
from agent_runtime.offline.titles import match_score
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

# When the user names no time at all, items start at nine in the morning.
DEFAULT_HOUR = 9
# New items last an hour unless they say otherwise.
DEFAULT_DURATION = timedelta(hours=1)

# The tool that acts on an existing item once the list shows which one the user meant.
_FOLLOW_UP = {
    "delete": DELETE_SCHEDULE_ITEM,
    "update": UPDATE_SCHEDULE_ITEM,
    "share": SHARE_SCHEDULE_ITEM,
}
_SIMPLE_TOOLS = {"friends": LIST_FRIENDS, "inbox": LIST_INBOX_MESSAGES}


class Turn:
    """Decides one assistant turn from a request."""

    def __init__(self, request: ModelRequest) -> None:
        self.messages = list(request.messages)
        self.tools = {tool.name for tool in request.tools}
        self.zone = zone_named(request.timezone)
        now = request.now if request.now.tzinfo else request.now.replace(tzinfo=UTC)
        self.now = now.astimezone(self.zone)
        self.today: date = self.now.date()
        self.lang = detect_language(last_user_text(self.messages))
        self.summary = Summariser(self.lang, self.zone)

    def reply(self) -> Reply:
        last = self.messages[-1] if self.messages else None
        if isinstance(last, ToolMessage):
            return self._after_tools()
        if isinstance(last, UserMessage):
            if has_attachments(last):
                return TextReply(cannot_see(self.lang))
            return self._answer(parse_intent(message_text(last), self.today))
        return TextReply(help_text(self.lang))

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
                return TextReply(cannot_open(self.lang, intent.path))
            return self._tool(NAVIGATE_ROUTE, {"path": intent.path})
        return TextReply(help_text(self.lang))

    def _tool(self, name: str, arguments: JsonObject) -> Reply:
        """A call of `name`, or a text answer when the client did not offer that tool."""
        if name not in self.tools:
            return TextReply(unavailable(self.lang, name))
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
        arguments: JsonObject = {"title": intent.title or say(self.lang, "Event", "日程")}
        if intent.all_day:
            # Whole days, the end exclusive: "all day next week" is its seven days.
            days = when.span_days if repeat is None else 1
            end = day + timedelta(days=days)
            arguments |= {"startAt": day.isoformat(), "endAt": end.isoformat(), "allDay": True}
        else:
            start = self._at(day, hour, when.minute)
            arguments |= {"startAt": iso(start), "endAt": iso(start + DEFAULT_DURATION)}
        arguments["timezone"] = self._timezone_name()
        if repeat is not None:
            arguments["recurrence"] = repeat.rule(day)
        return arguments

    def _range_arguments(self, when: When) -> JsonObject:
        if when.day is None:
            return {}
        start = self._at(when.day, 0)
        end = self._at(when.day + timedelta(days=when.span_days), 0)
        return {"startAt": iso(start), "endAt": iso(end)}

    def _start_lookup(self, intent: Intent) -> Reply:
        """Changing an item needs its id: list the items first (the result comes back next turn)."""
        follow_up = _FOLLOW_UP[intent.kind]
        if follow_up not in self.tools:
            return TextReply(unavailable(self.lang, follow_up))
        if intent.kind == "update" and not _has_changes(intent):
            return TextReply(ask_what_to_change(self.lang))
        return self._tool(LIST_SCHEDULE_ITEMS, {})

    # -- tool results --------------------------------------------------------------------

    def _after_tools(self) -> Reply:
        results = trailing_tool_results(self.messages)
        calls = [find_call(self.messages, result.tool_call_id) for result in results]
        # A listing made for "delete/move/share X" is a step of that request, not an answer.
        found = calls[0] if len(results) == 1 else None
        if found is not None and found[1].function.name == LIST_SCHEDULE_ITEMS:
            intent = parse_intent(last_user_text(self.messages, before=found[0]), self.today)
            if intent.kind in _FOLLOW_UP:
                return self._follow_up(intent, results[0])
        summaries = [
            self.summary.summarise(result, None if found is None else found[1])
            for result, found in zip(results, calls, strict=True)
        ]
        return TextReply(say(self.lang, " ", "").join(summaries))

    def _follow_up(self, intent: Intent, result: ToolMessage) -> Reply:
        payload = json_object(message_text(result))
        if payload is None or payload.get("ok") is not True or result.error:
            return TextReply(self.summary.summarise(result, None))
        items = objects(payload.get("items"))
        item = self._choose(intent, items)
        if item is None:
            return TextReply(self.summary.not_found(intent.target, items))
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
            start = parse_iso(item.get("startAt"), self.zone)
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
            changes |= {"startAt": iso(start), "endAt": iso(end)}
        return changes

    def _moved(self, when: When, item: JsonObject) -> tuple[datetime, datetime]:
        """The new start and end: what the user named replaces the old day or time of day, and
        the item keeps its length."""
        old_start = parse_iso(item.get("startAt"), self.zone)
        old_end = parse_iso(item.get("endAt"), self.zone)
        duration = DEFAULT_DURATION
        if old_start is not None and old_end is not None and old_end > old_start:
            duration = old_end - old_start
        base = old_start or self._at(self.today, DEFAULT_HOUR)
        day = when.day or base.date()
        hour, minute = (base.hour, base.minute) if when.hour is None else (when.hour, when.minute)
        start = self._at(day, hour, minute)
        return start, start + duration


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
