"""History of a thread, one UTC day at a time, in the source's `STATE_SNAPSHOT` envelope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from models import AgentMessage, AgentThread
from resolvers.agent_threads import NOT_YOURS
from resolvers.errors import Forbidden
from resolvers.viewer import Viewer


@dataclass(frozen=True, slots=True)
class HistoryDay:
    thread_id: str | None
    day: date | None
    has_more: bool
    messages: list[dict[str, Any]]
    cursor: str | None  # the stream id of the newest event reflected in the thread's rows

    def envelope(self) -> dict[str, Any]:
        return {
            "type": "STATE_SNAPSHOT",
            "threadId": self.thread_id,
            "snapshot": {
                "scope": "history_day",
                "threadId": self.thread_id,
                "day": self.day.isoformat() if self.day else None,
                "hasMore": self.has_more,
                "messages": self.messages,
                "cursor": self.cursor,
            },
        }


EMPTY = HistoryDay(thread_id=None, day=None, has_more=False, messages=[], cursor=None)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def history_day(
    viewer: Viewer, thread_id: uuid.UUID | None, before: date | None
) -> HistoryDay:
    """The most recent day with messages strictly before `before` (default: today included)."""
    if thread_id is not None:
        thread: AgentThread | None = await AgentThread.get_or_none(id=thread_id)
        if thread is None:
            # A thread whose first run has not come yet has no history (not 404: clients load
            # the history of a new conversation before they start it).
            return HistoryDay(str(thread_id), None, False, [], None)
        if thread.owner_id != viewer.user_id:
            raise Forbidden(NOT_YOURS)
    else:
        thread = (
            await AgentThread.filter(owner_id=viewer.user_id)
            .order_by("-last_active_at", "id")
            .first()
        )
    if thread is None:
        return EMPTY
    limit = _midnight(before) if before else _midnight(datetime.now(UTC).date() + timedelta(1))
    newest = (
        await AgentMessage.filter(thread_id=thread.id, created_at__lt=limit)
        .order_by("-created_at", "-id")
        .first()
        .values_list("created_at", flat=True)
    )
    if newest is None:
        return HistoryDay(str(thread.id), None, False, [], thread.last_event_id)
    assert isinstance(newest, datetime)
    day = newest.astimezone(UTC).date()
    start = _midnight(day)
    bodies = (
        await AgentMessage.filter(
            thread_id=thread.id, created_at__gte=start, created_at__lt=start + timedelta(1)
        )
        .order_by("id")
        .values_list("body", flat=True)
    )
    has_more = await AgentMessage.filter(thread_id=thread.id, created_at__lt=start).exists()
    return HistoryDay(
        thread_id=str(thread.id),
        day=day,
        has_more=has_more,
        messages=[dict(b) for b in bodies],
        cursor=thread.last_event_id,
    )
