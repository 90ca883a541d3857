"""The server tools the agent may call: names, descriptions and JSON Schema arguments.

Models see these exactly as they see the client's frontend tools (AG-UI `Tool`). Tools that change
data need the user's approval before they run (`NEEDS_APPROVAL`); the others run at once.
"""

from __future__ import annotations

from typing import Any

from ag_ui.core import Tool

LIST_SCHEDULE_ITEMS = "list_schedule_items"
CREATE_SCHEDULE_ITEM = "create_schedule_item"
UPDATE_SCHEDULE_ITEM = "update_schedule_item"
DELETE_SCHEDULE_ITEM = "delete_schedule_item"
SHARE_SCHEDULE_ITEM = "share_schedule_item"
LIST_FRIENDS = "list_friends"
LIST_INBOX_MESSAGES = "list_inbox_messages"

# The frontend tool the offline model knows how to call when the client offers it.
NAVIGATE_ROUTE = "navigate_route"

NEEDS_APPROVAL = frozenset(
    {CREATE_SCHEDULE_ITEM, UPDATE_SCHEDULE_ITEM, DELETE_SCHEDULE_ITEM, SHARE_SCHEDULE_ITEM}
)

_DATETIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with offset"}
# An item's own times: a date alone when the item is all-day.
_MOMENT_TEXT = "ISO 8601 date-time with offset; a date (YYYY-MM-DD) when allDay is true"
_ITEM_START = {"type": "string", "description": _MOMENT_TEXT}
_ITEM_END = {
    "type": "string",
    "description": _MOMENT_TEXT + " (exclusive: an all-day item's day after its last day)",
}
_ALL_DAY = {
    "type": "boolean",
    "description": "a whole-day item: startAt/endAt are dates; endAt omitted means one day",
}
_RULE_TEXT = (
    "RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO or FREQ=MONTHLY;BYMONTHDAY=1;COUNT=10; "
    "startAt must be its first occurrence, and it repeats on the wall clock of timezone"
)
_RECURRENCE = {"type": "string", "maxLength": 500, "description": _RULE_TEXT}
_RECURRENCE_CHANGE = {
    "type": ["string", "null"],
    "maxLength": 500,
    "description": _RULE_TEXT + "; null stops it repeating",
}
_ITEM_ID = {"type": "string", "format": "uuid", "description": "the schedule item's id"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


SERVER_TOOLS: tuple[Tool, ...] = (
    Tool(
        name=LIST_SCHEDULE_ITEMS,
        description="List the user's schedule items (own and shared), optionally within a range.",
        parameters=_object({"startAt": _DATETIME, "endAt": _DATETIME}),
    ),
    Tool(
        name=CREATE_SCHEDULE_ITEM,
        description=(
            "Create a schedule item for the user, optionally all-day or repeating. "
            "Needs the user's approval."
        ),
        parameters=_object(
            {
                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": {"type": "string"},
                "startAt": _ITEM_START,
                "endAt": _ITEM_END,
                "timezone": {"type": "string", "description": "IANA time zone name"},
                "allDay": _ALL_DAY,
                "recurrence": _RECURRENCE,
            },
            ["title", "startAt"],
        ),
    ),
    Tool(
        name=UPDATE_SCHEDULE_ITEM,
        description=(
            "Change fields of a schedule item (of a repeating one: the whole series). "
            "Needs the user's approval."
        ),
        parameters=_object(
            {
                "id": _ITEM_ID,
                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": {"type": "string"},
                "startAt": _ITEM_START,
                "endAt": _ITEM_END,
                # Changing allDay needs startAt (and endAt) with it, as dates or date-times.
                "allDay": _ALL_DAY,
                "recurrence": _RECURRENCE_CHANGE,
                "status": {"type": "string", "enum": ["active", "completed", "cancelled"]},
            },
            ["id"],
        ),
    ),
    Tool(
        name=DELETE_SCHEDULE_ITEM,
        description="Delete a schedule item the user owns. Needs the user's approval.",
        parameters=_object({"id": _ITEM_ID}, ["id"]),
    ),
    Tool(
        name=SHARE_SCHEDULE_ITEM,
        description="Invite someone (by email) to a schedule item. Needs the user's approval.",
        parameters=_object(
            {
                "id": _ITEM_ID,
                "email": {"type": "string", "format": "email"},
                "permissionEdit": {"type": "boolean"},
                "permissionInvite": {"type": "boolean"},
            },
            ["id", "email"],
        ),
    ),
    Tool(
        name=LIST_FRIENDS,
        description="List the user's friends.",
        parameters=_object({}),
    ),
    Tool(
        name=LIST_INBOX_MESSAGES,
        description="Read the user's inbox (invitations and friend requests).",
        parameters=_object(
            {"status": {"type": "string", "enum": ["pending", "accepted", "rejected", "dismissed"]}}
        ),
    ),
)

SERVER_TOOL_NAMES = frozenset(tool.name for tool in SERVER_TOOLS)
