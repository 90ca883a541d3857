"""Request and response bodies of the agent routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field

from resolvers.agent_run_status import RunStatus
from resolvers.agent_runs import RunTicket

ResumeInput = Annotated[
    dict[str, Any],
    Body(
        description="An AG-UI 1.0 RunAgentInput continuing the thread: threadId (the path's), "
        "runId, and optionally messages (default none), resume, state, tools, context, "
        "forwardedProps, parentRunId",
    ),
]


def resume_input(body: dict[str, Any]) -> dict[str, Any]:
    """The resume body as a RunAgentInput: `messages` may be left out.

    A resume that only answers interrupts has no new message to send, and AG-UI's
    RunAgentInput requires the field; a start still has to send it.
    """
    return body if "messages" in body else {**body, "messages": []}


class RunTicketBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    task_id: str = Field(alias="taskId")
    thread_id: str = Field(alias="threadId")
    run_id: str = Field(alias="runId")
    created: bool

    @classmethod
    def of(cls, ticket: RunTicket) -> RunTicketBody:
        return cls(
            task_id=ticket.task_id,
            thread_id=ticket.thread_id,
            run_id=ticket.run_id,
            created=ticket.created,
        )


class HistorySnapshot(BaseModel):
    scope: str = "history_day"
    thread_id: str | None = Field(alias="threadId")
    day: str | None
    has_more: bool = Field(alias="hasMore")
    messages: list[dict[str, Any]]
    cursor: str | None = Field(
        description="The stream id of the newest event reflected in the thread's stored state; "
        "pass it as Last-Event-ID to continue after this snapshot"
    )


class HistoryEnvelope(BaseModel):
    type: str = "STATE_SNAPSHOT"
    thread_id: str | None = Field(alias="threadId")
    snapshot: HistorySnapshot


class RunStatusBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    thread_id: str = Field(alias="threadId")
    run_id: str = Field(alias="runId")
    status: str = Field(
        description="queued, running, interrupted (waiting for approval), finished, error or "
        "cancelled"
    )
    created_at: datetime = Field(alias="createdAt")
    started_at: datetime | None = Field(alias="startedAt")
    finished_at: datetime | None = Field(alias="finishedAt")
    error: str | None = Field(description="The RUN_ERROR code of a run that ended in error")
    usage: Any = Field(description="The model's token usage, null unless it reported it")
    cancel_requested_at: datetime | None = Field(alias="cancelRequestedAt")

    @classmethod
    def of(cls, run: RunStatus) -> RunStatusBody:
        return cls(
            thread_id=run.thread_id,
            run_id=run.run_id,
            status=run.status,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
            usage=run.usage,
            cancel_requested_at=run.cancel_requested_at,
        )


class RunPageBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    runs: list[RunStatusBody]
    next_cursor: str | None = Field(
        alias="nextCursor", description="Pass as `cursor` for the next, older page; null at the end"
    )


class CancelBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    run_id: str | None = Field(
        default=None,
        alias="runId",
        description="The run to cancel; absent: every queued or running run",
    )


class CancelledBody(BaseModel):
    cancelled: list[str] = Field(description="The run ids the cancel applies to")
