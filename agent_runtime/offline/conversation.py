"""Reading the conversation a turn answers: message texts, tool calls and their results, the JSON
in them, and the times in that JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ag_ui.core import AssistantMessage, Message, TextPart, ToolCall, ToolMessage, UserMessage

JsonObject = dict[str, Any]


def message_text(message: Message) -> str:
    """The text of a message: its string content, or its text parts joined (images ignored)."""
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.text for part in content if isinstance(part, TextPart))
    return ""


def has_attachments(message: UserMessage) -> bool:
    """Whether the message carries parts other than text (images, documents, audio, video)."""
    content = message.content
    return isinstance(content, list) and any(not isinstance(p, TextPart) for p in content)


def last_user_text(messages: Sequence[Message], before: int | None = None) -> str:
    end = len(messages) if before is None else before
    for message in reversed(messages[:end]):
        if isinstance(message, UserMessage):
            return message_text(message)
    return ""


def trailing_tool_results(messages: Sequence[Message]) -> list[ToolMessage]:
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.append(message)
    return results[::-1]


def find_call(messages: Sequence[Message], call_id: str) -> tuple[int, ToolCall] | None:
    """The assistant tool call a result answers, and the index of the message that made it."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, AssistantMessage):
            for call in message.tool_calls or []:
                if call.id == call_id:
                    return index, call
    return None


def json_object(text: str) -> JsonObject | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def objects(value: object) -> list[JsonObject]:
    """The dicts of a JSON list, skipping anything else a server might have put there."""
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def zone_named(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def parse_iso(value: object, zone: tzinfo) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
