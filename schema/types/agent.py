from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from models import AgentThread as AgentThreadRow
from resolvers.agent_history import HistoryDay
from resolvers.agent_run_status import list_runs
from resolvers.agent_runs import RunTicket
from schema.context import GqlInfo, require_viewer
from schema.types.agent_runs import AgentRunPage


@strawberry.type(description="An accepted run: poll nothing, watch `agentEvents` instead.")
class AgentRunTicket:
    task_id: str
    thread_id: strawberry.ID
    run_id: str
    created: bool

    @classmethod
    def of(cls, ticket: RunTicket) -> AgentRunTicket:
        return cls(
            task_id=ticket.task_id,
            thread_id=strawberry.ID(ticket.thread_id),
            run_id=ticket.run_id,
            created=ticket.created,
        )


@strawberry.type(description="One AG-UI event of a thread with its stream id.")
class AgentEvent:
    id: str = strawberry.field(description="The stream id, as in SSE `id:` / Last-Event-ID")
    type: str
    event: JSON = strawberry.field(description="The AG-UI event object (camelCase)")

    @classmethod
    def of(cls, event_id: str, event: dict[str, Any]) -> AgentEvent:
        return cls(id=event_id, type=str(event.get("type")), event=JSON(event))


@strawberry.type
class AgentThread:
    id: strawberry.ID
    last_active_at: datetime
    created_at: datetime

    @strawberry.field(description="The thread's runs with their status, newest first.")
    async def runs(
        self, info: GqlInfo, limit: int | None = None, cursor: str | None = None
    ) -> AgentRunPage:
        viewer = await require_viewer(info)
        page = await list_runs(viewer, uuid.UUID(str(self.id)), limit=limit, cursor=cursor)
        return AgentRunPage.of(page)

    @classmethod
    def of(cls, row: AgentThreadRow) -> AgentThread:
        return cls(
            id=strawberry.ID(str(row.id)),
            last_active_at=row.last_active_at,
            created_at=row.created_at,
        )


@strawberry.type(description="A thread's messages of one UTC day (AG-UI message objects).")
class AgentHistoryDay:
    thread_id: strawberry.ID | None
    day: date | None
    has_more: bool
    messages: JSON
    cursor: str | None = strawberry.field(
        description="The stream id of the newest event reflected; pass it as `after`"
    )

    @classmethod
    def of(cls, day: HistoryDay) -> AgentHistoryDay:
        return cls(
            thread_id=strawberry.ID(day.thread_id) if day.thread_id else None,
            day=day.day,
            has_more=day.has_more,
            messages=JSON(day.messages),
            cursor=day.cursor,
        )
