"""A run's status record and a page of them (GraphQL)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from resolvers.agent_run_status import RunPage, RunStatus


@strawberry.type(description="One accepted run and where it stands.")
class AgentRun:
    thread_id: strawberry.ID
    run_id: str
    status: str = strawberry.field(
        description="queued, running, interrupted (waiting for approval), finished, error or "
        "cancelled"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = strawberry.field(description="The RUN_ERROR code of a failed run")
    usage: JSON | None = strawberry.field(
        description="The model's token usage, null unless it reported it"
    )
    cancel_requested_at: datetime | None

    @classmethod
    def of(cls, run: RunStatus) -> AgentRun:
        return cls(
            thread_id=strawberry.ID(run.thread_id),
            run_id=run.run_id,
            status=run.status,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
            usage=JSON(run.usage) if run.usage is not None else None,
            cancel_requested_at=run.cancel_requested_at,
        )


@strawberry.type(description="A page of a thread's runs, newest first.")
class AgentRunPage:
    runs: list[AgentRun]
    next_cursor: str | None = strawberry.field(
        description="Pass as `cursor` for the next, older page; null at the end"
    )

    @classmethod
    def of(cls, page: RunPage) -> AgentRunPage:
        return cls(runs=[AgentRun.of(r) for r in page.runs], next_cursor=page.next_cursor)
