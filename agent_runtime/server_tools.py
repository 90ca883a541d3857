"""Server tools: the agent acts on the user's data through the same resolvers as the APIs.

Each tool takes the call's JSON arguments and returns a JSON-able result: `{"ok": true, ...}`, or
`{"ok": false, "error": "<sentence>"}` when the resolver refuses (the same rule that answers the
API answers the agent). Results are what the model reads and what `TOOL_CALL_RESULT` carries.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic.alias_generators import to_snake

from agent_runtime import tool_specs as names
from infra.services import Services
from models import User
from observability.tracing import annotate, span
from resolvers import friends, inbox, schedule, sharing
from resolvers.calendar_inputs import (
    CreateScheduleItem,
    InboxFilter,
    ScheduleRange,
    ShareScheduleItem,
    UpdateScheduleItem,
)
from resolvers.errors import DomainError
from resolvers.recurrence import all_day_dates
from resolvers.schedule_listing import ItemRow, item_row
from resolvers.viewer import Viewer

Result = dict[str, Any]
Handler = Callable[[Services, Viewer, dict[str, Any]], Awaitable[Result]]

# Tools act with the owner's identity but outside any HTTP session.
_NO_SESSION = uuid.UUID(int=0)


async def viewer_for(user_id: uuid.UUID) -> Viewer:
    user = await User.get(id=user_id)
    return Viewer(user_id=user.id, email=user.email, role=user.role, session_id=_NO_SESSION)


def _item(row: ItemRow) -> Result:
    """An item as the tools show it. A list entry shows its occurrence's times (always set on
    list entries: a single item's are its own); any other answer, the item's."""
    if row.occurrence_start_at is not None:
        start, end = row.occurrence_start_at, row.occurrence_end_at
    else:
        start, end = row.start_at, row.end_at
    return {
        "id": str(row.id),
        "title": row.title,
        "description": row.description,
        "startAt": start.isoformat(),
        "endAt": end.isoformat() if end else None,
        "allDay": row.all_day,
        **_all_day_dates(row.all_day, start, end, row.timezone),
        "recurrence": row.recurrence,
        "timezone": row.timezone,
        "status": row.status,
        "sourceType": row.source_type,
        "permission": row.permission,
    }


def _all_day_dates(all_day: bool, start: datetime, end: datetime | None, timezone: str) -> Result:
    """An all-day item's (or occurrence's) first day and the day after its last, in its zone,
    as the tools take them; null for a timed one (its instants say it all)."""
    first, after = all_day_dates(all_day, start, end, timezone)
    return {
        "startDate": first.isoformat() if first else None,
        "endDate": after.isoformat() if after else None,
    }


def _item_id(args: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(args.get("id")))
    except ValueError:
        raise _BadArguments("id must be a schedule item's UUID") from None


class _BadArguments(Exception):
    pass


async def _list_items(_services: Services, viewer: Viewer, args: dict[str, Any]) -> Result:
    request = ScheduleRange.model_validate(args)
    rows = (await schedule.list_items(viewer, request)).entries
    items = [_item(row) for row in rows]
    return {"ok": True, "items": items}


async def _create_item(_services: Services, viewer: Viewer, args: dict[str, Any]) -> Result:
    request = CreateScheduleItem.model_validate(args)
    visible = await schedule.create_item(viewer, request, source_type="agent")
    return {"ok": True, "item": _item(item_row(visible))}


async def _update_item(services: Services, viewer: Viewer, args: dict[str, Any]) -> Result:
    item_id = _item_id(args)
    request = UpdateScheduleItem.model_validate({k: v for k, v in args.items() if k != "id"})
    visible = await schedule.update_item(services, viewer, item_id, request)
    return {"ok": True, "item": _item(item_row(visible))}


async def _delete_item(services: Services, viewer: Viewer, args: dict[str, Any]) -> Result:
    item_id = _item_id(args)
    await schedule.delete_item(services, viewer, item_id)
    return {"ok": True, "deleted": str(item_id)}


async def _share_item(services: Services, viewer: Viewer, args: dict[str, Any]) -> Result:
    item_id = _item_id(args)
    request = ShareScheduleItem.model_validate({k: v for k, v in args.items() if k != "id"})
    return {"ok": True, "message": await sharing.share_item(services, viewer, item_id, request)}


async def _list_friends(_services: Services, viewer: Viewer, _args: dict[str, Any]) -> Result:
    found = [
        {"id": str(f.user.id), "username": f.user.username}
        for f in await friends.list_friends(viewer)
    ]
    return {"ok": True, "friends": found}


async def _list_inbox(_services: Services, viewer: Viewer, args: dict[str, Any]) -> Result:
    request = InboxFilter.model_validate(args)
    messages = await inbox.list_messages(viewer, request)
    return {
        "ok": True,
        "messages": [
            {
                "id": str(m.id),
                "messageType": m.message_type,
                "status": m.status,
                "content": m.content,
                "sender": str(m.sender_id) if m.sender_id else None,
                "scheduleItemId": str(m.schedule_item_id) if m.schedule_item_id else None,
            }
            for m in messages
        ],
    }


HANDLERS: dict[str, Handler] = {
    names.LIST_SCHEDULE_ITEMS: _list_items,
    names.CREATE_SCHEDULE_ITEM: _create_item,
    names.UPDATE_SCHEDULE_ITEM: _update_item,
    names.DELETE_SCHEDULE_ITEM: _delete_item,
    names.SHARE_SCHEDULE_ITEM: _share_item,
    names.LIST_FRIENDS: _list_friends,
    names.LIST_INBOX_MESSAGES: _list_inbox,
}


async def execute(services: Services, viewer: Viewer, name: str, arguments: str) -> Result:
    """Run one server tool call; refusals and bad arguments become `{"ok": false, ...}`."""
    known = name if name in HANDLERS else "unknown"  # the model names it: keep names bounded
    with span(f"tool {known}", {"agent.tool.name": known}):
        result = await _execute(services, viewer, name, arguments)
        annotate({"agent.tool.ok": result.get("ok") is not False})
        return result


async def _execute(services: Services, viewer: Viewer, name: str, arguments: str) -> Result:
    handler = HANDLERS.get(name)
    if handler is None:
        return {"ok": False, "error": f"There is no tool named {name!r}."}
    try:
        args = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"ok": False, "error": "The tool arguments are not valid JSON."}
    if not isinstance(args, dict):
        return {"ok": False, "error": "The tool arguments must be a JSON object."}
    # Tools speak camelCase like the rest of AG-UI; the resolvers' inputs are the snake_case
    # REST bodies.
    args = {to_snake(key): value for key, value in args.items()}
    try:
        return await handler(services, viewer, args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_context=False)
        )
        return {"ok": False, "error": f"Invalid arguments: {problems}"}
    except _BadArguments as exc:
        return {"ok": False, "error": f"Invalid arguments: {exc}"}
    except DomainError as exc:
        return {"ok": False, "error": exc.detail}
