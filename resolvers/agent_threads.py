"""A thread's stored conversation and state: ownership, messages, checkpoints.

Messages are stored as AG-UI message objects (camelCase, no nulls). The thread row records the
stream id of the newest event its stored state and messages reflect (`last_event_id`), so a
snapshot built from the rows can be followed by the stream strictly after that id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ag_ui.core import Message
from pydantic import TypeAdapter
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import AgentMessage, AgentThread
from resolvers.errors import Forbidden, NotFound
from resolvers.viewer import Viewer

PENDING_APPROVALS = "pendingApprovals"  # the server-owned key of a thread's state

_messages = TypeAdapter(list[Message])

NOT_YOURS = "This thread belongs to another user."


def dump_message(message: Message) -> dict[str, Any]:
    return message.model_dump(by_alias=True, exclude_none=True, mode="json")


def parse_messages(bodies: Iterable[dict[str, Any]]) -> list[Message]:
    return _messages.validate_python(list(bodies))


async def owned_thread(viewer: Viewer, thread_id: uuid.UUID) -> AgentThread:
    """The caller's thread: 404 when it does not exist, 403 when it is someone else's."""
    thread = await AgentThread.get_or_none(id=thread_id)
    if thread is None:
        raise NotFound("No agent thread with this id.")
    if thread.owner_id != viewer.user_id:
        raise Forbidden(NOT_YOURS)
    return thread


async def own_or_create_thread(viewer: Viewer, thread_id: uuid.UUID) -> AgentThread:
    """The thread, created for the caller by its first run; 403 when another user owns it."""
    thread = await AgentThread.get_or_none(id=thread_id)
    if thread is None:
        try:
            thread = await AgentThread.create(
                id=thread_id, owner_id=viewer.user_id, last_active_at=datetime.now(UTC)
            )
        except IntegrityError:
            # Someone created it first (perhaps this same user, concurrently).
            thread = await AgentThread.get(id=thread_id)
    if thread.owner_id != viewer.user_id:
        raise Forbidden(NOT_YOURS)
    return thread


async def stored_message_ids(thread_id: uuid.UUID) -> set[str]:
    ids = await AgentMessage.filter(thread_id=thread_id).values_list("message_id", flat=True)
    return {str(i) for i in ids}


async def load_messages(thread_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = (
        await AgentMessage.filter(thread_id=thread_id).order_by("id").values_list("body", flat=True)
    )
    return [dict(row) for row in rows]


def open_tool_calls(messages: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Tool calls of the thread that have no result yet: call id -> tool name."""
    calls: dict[str, str] = {}
    for message in messages:
        if message.get("role") == "assistant":
            for call in message.get("toolCalls") or ():
                calls[call["id"]] = call["function"]["name"]
    for message in messages:
        if message.get("role") == "tool":
            calls.pop(message.get("toolCallId", ""), None)
    return calls


def pending_approvals(state: dict[str, Any]) -> list[dict[str, Any]]:
    entries = state.get(PENDING_APPROVALS)
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and e.get("status") == "pending"]


async def append_messages(
    thread_id: uuid.UUID, bodies: Sequence[dict[str, Any]], *, at: datetime | None = None
) -> None:
    """Store messages the thread has not seen (by id); ones it has are left as they are."""
    if not bodies:
        return
    when = at or datetime.now(UTC)
    known = await stored_message_ids(thread_id)
    fresh = [b for b in bodies if b["id"] not in known]
    for body in fresh:
        try:
            async with in_transaction():
                await AgentMessage.create(
                    thread_id=thread_id,
                    message_id=body["id"],
                    role=body["role"],
                    body=body,
                    created_at=when,
                )
        except IntegrityError:
            continue  # stored concurrently under the same id: the first copy wins


async def checkpoint(
    thread: AgentThread, *, state: dict[str, Any] | None = None, event_id: str | None = None
) -> None:
    """Record the thread's state and the newest stream event it reflects."""
    updates: dict[str, Any] = {"last_active_at": datetime.now(UTC)}
    if state is not None:
        thread.state = state
        updates["state"] = state
    if event_id is not None:
        thread.last_event_id = event_id
        updates["last_event_id"] = event_id
        if thread.first_event_id is None:
            thread.first_event_id = event_id
            updates["first_event_id"] = event_id
    thread.last_active_at = updates["last_active_at"]
    await AgentThread.filter(id=thread.id).update(**updates)


async def list_threads(viewer: Viewer) -> list[AgentThread]:
    return await AgentThread.filter(owner_id=viewer.user_id).order_by("-last_active_at", "id")
