"""Tool results in words, in the user's language: what the model says once the tools have run."""

from __future__ import annotations

from datetime import date, tzinfo

from ag_ui.core import ToolCall, ToolMessage

from agent_runtime.offline.conversation import (
    JsonObject,
    json_object,
    message_text,
    objects,
    parse_iso,
)
from agent_runtime.offline.language import Lang, say
from agent_runtime.offline.rule_text import describe_rule
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

# Summaries name this many items at most, so a long list stays a short answer.
MAX_LISTED = 8

_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def show_time(value: object, zone: tzinfo, lang: Lang) -> str:
    """A start time as people read it: "Sat Mar 7, 12:00" / "3月7日 周六 12:00"."""
    moment = parse_iso(value, zone)
    if moment is None:
        return str(value or "")
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if lang == "zh":
        return f"{moment.month}月{moment.day}日 {_WEEKDAY_ZH[moment.weekday()]} {clock}"
    return f"{_WEEKDAY_EN[moment.weekday()]} {moment:%b} {moment.day}, {clock}"


def show_day(value: str, lang: Lang) -> str:
    """An all-day item's day: "Fri Mar 6, all day" / "3月6日 周五 全天"."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    if lang == "zh":
        return f"{day.month}月{day.day}日 {_WEEKDAY_ZH[day.weekday()]} 全天"
    return f"{_WEEKDAY_EN[day.weekday()]} {day:%b} {day.day}, all day"


class Summariser:
    """Puts tool results in words for a user who writes `lang` and lives in `zone`."""

    def __init__(self, lang: Lang, zone: tzinfo) -> None:
        self.lang = lang
        self.zone = zone

    def not_found(self, target: str, items: list[JsonObject]) -> str:
        titles = [str(item.get("title", "")) for item in items[:MAX_LISTED]]
        wanted = target or say(self.lang, "that", "这个")
        if not titles:
            return say(
                self.lang,
                f'Nothing matched "{wanted}": your schedule is empty.',
                f"没有找到与「{wanted}」匹配的日程：你的日程是空的。",
            )
        return say(
            self.lang,
            f'Nothing matched "{wanted}". Your items: {", ".join(titles)}.',
            f"没有找到与「{wanted}」匹配的日程。你的日程有：{'、'.join(titles)}。",
        )

    def summarise(self, result: ToolMessage, call: ToolCall | None) -> str:
        name = call.function.name if call is not None else ""
        arguments = json_object(call.function.arguments) if call is not None else None
        text = message_text(result)
        payload = json_object(text)
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
        reason = str(error or say(self.lang, "unknown error", "未知错误"))
        return say(self.lang, f"That didn't work: {reason}", f"操作没有成功：{reason}")

    def _rejected(self, name: str, reason: object) -> str:
        english, chinese = _ACTIONS.get(name, (f"run {name}", f"执行 {name}"))
        text = say(self.lang, f"OK, I did not {english}.", f"好的，没有{chinese}。")
        if isinstance(reason, str) and reason.strip():
            text += say(self.lang, f" Reason: {reason.strip()}", f"原因：{reason.strip()}")
        return text

    def _plain_result(self, name: str, arguments: JsonObject, text: str) -> str:
        """A result that is not the server's JSON: most likely a frontend tool's answer."""
        if name == NAVIGATE_ROUTE:
            path = str(arguments.get("path", "")) or text
            return say(self.lang, f"Opened {path}.", f"已为你打开 {path}。")
        snippet = " ".join(text.split())[:200]
        if not snippet:
            return say(self.lang, "Done.", "完成了。")
        return say(self.lang, f"Done: {snippet}", f"完成：{snippet}")

    def _summarise_items(self, payload: JsonObject, arguments: JsonObject) -> str:
        items = objects(payload.get("items"))
        if not items:
            if "startAt" in arguments:
                day = show_time(arguments["startAt"], self.zone, self.lang).rsplit(" ", 1)[0]
                return say(self.lang, f"Nothing scheduled for {day}.", f"{day}没有日程。")
            return say(self.lang, "Your schedule is empty.", "你还没有任何日程。")
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
            return show_day(str(item["startDate"]), self.lang)
        return show_time(item.get("startAt"), self.zone, self.lang)

    def _item_entry(self, item: JsonObject) -> str:
        title = str(item.get("title") or say(self.lang, "(untitled)", "（无标题）"))
        when = self._show_when(item)
        status = item.get("status")
        extra = f", {status}" if isinstance(status, str) and status != "active" else ""
        return say(self.lang, f"{title} ({when}{extra})", f"{title}（{when}{extra}）")

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
        return say(self.lang, "Deleted the item.", "已删除该日程。")

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
        names = [_person(friend) for friend in objects(payload.get("friends"))]
        if not names:
            return say(self.lang, "You have no friends here yet.", "你还没有好友。")
        shown = names[:MAX_LISTED]
        more = len(names) - len(shown)
        if self.lang == "zh":
            return f"你有 {len(names)} 位好友：{'、'.join(shown)}" + (" 等" if more else "") + "。"
        tail = f" and {more} more" if more else ""
        return f"Your friends: {', '.join(shown)}{tail}."

    def _summarise_inbox(self, payload: JsonObject, arguments: JsonObject) -> str:
        del arguments
        messages = objects(payload.get("messages"))
        if not messages:
            return say(self.lang, "Your inbox is empty.", "收件箱是空的。")
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
    LIST_SCHEDULE_ITEMS: Summariser._summarise_items,
    CREATE_SCHEDULE_ITEM: Summariser._summarise_created,
    UPDATE_SCHEDULE_ITEM: Summariser._summarise_updated,
    DELETE_SCHEDULE_ITEM: Summariser._summarise_deleted,
    SHARE_SCHEDULE_ITEM: Summariser._summarise_shared,
    LIST_FRIENDS: Summariser._summarise_friends,
    LIST_INBOX_MESSAGES: Summariser._summarise_inbox,
}
