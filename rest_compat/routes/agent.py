"""The Agent Runtime routes of the source, plus the plain AG-UI transport `POST /agent`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from ag_ui.core import AgentCapabilities
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, status
from fastapi.responses import StreamingResponse

from agent_runtime.capabilities import agent_capabilities
from infra.services import Services
from infra.stream_caps import StreamSlot
from resolvers import agent_cancel, agent_history, agent_run_status, agent_runs
from resolvers.errors import InvalidInput, NotFound
from resolvers.viewer import Viewer
from rest_compat.agent_bodies import (
    CancelBody,
    CancelledBody,
    HistoryEnvelope,
    ResumeInput,
    RunPageBody,
    RunStatusBody,
    RunTicketBody,
    resume_input,
)
from rest_compat.agent_disconnect import cancel_if_dropped, cancels_on_disconnect
from rest_compat.agent_sse import sse_response
from rest_compat.deps import ServicesDep, StreamViewerDep, ViewerDep, current_viewer
from rest_compat.problems import problem_responses
from subscriptions.agent_events import (
    check_cursor,
    hold_stream,
    open_thread_events,
    run_events,
    stream_caps_of,
)
from subscriptions.session_bound import until_signed_out

router = APIRouter(prefix="/agent", tags=["agent"])

RunInput = Annotated[
    dict[str, Any],
    Body(
        description="An AG-UI 1.0 RunAgentInput: threadId (UUID), runId, messages, and "
        "optionally state, tools, context, forwardedProps, parentRunId, resume",
    ),
]
ThreadPath = Annotated[
    str, Path(description="The thread's UUID", json_schema_extra={"format": "uuid"})
]
SSE_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The thread's AG-UI events as server-sent events",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _thread(thread_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(thread_id)
    except ValueError:
        raise NotFound("No agent thread with this id.") from None


@router.post(
    "/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunTicketBody,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 422),
    summary="Start an agent run (idempotent on threadId + runId)",
)
async def start_run(services: ServicesDep, viewer: ViewerDep, body: RunInput) -> RunTicketBody:
    return RunTicketBody.of(await agent_runs.accept_run(services, viewer, body))


@router.post(
    "/runs/{thread_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunTicketBody,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 404, 422),
    summary="Continue a thread: answer its open tool calls and approvals",
)
async def resume_run(
    services: ServicesDep, viewer: ViewerDep, thread_id: ThreadPath, body: ResumeInput
) -> RunTicketBody:
    run_input = resume_input(body)
    ticket = await agent_runs.accept_run(services, viewer, run_input, path_thread_id=thread_id)
    return RunTicketBody.of(ticket)


@router.get(
    "/runs/{thread_id}/events",
    response_class=StreamingResponse,
    responses={**SSE_CONTENT, **problem_responses(401, 403, 404, 422)},
    summary="The thread's events as SSE, resumable with Last-Event-ID",
)
async def thread_events(
    request: Request,
    services: ServicesDep,
    viewer: StreamViewerDep,
    thread_id: ThreadPath,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(alias="lastEventId", description="Last-Event-ID for clients that cannot set it"),
    ] = None,
) -> StreamingResponse:
    if last_event_id is not None:
        after = check_cursor(last_event_id, ["header", "Last-Event-ID"])
    else:
        after = check_cursor(last_event_id_query, ["query", "lastEventId"])
    thread = _thread(thread_id)
    slot = await hold_stream(stream_caps_of(request.app.state), viewer)
    try:
        events = await open_thread_events(services, viewer, thread, after)
    except BaseException:
        slot.release()
        raise
    return _stream(services, viewer, events, slot)


@router.get(
    "/runs/{thread_id}/runs",
    response_model=RunPageBody,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 404, 422),
    summary="The thread's runs with their status, newest first",
)
async def list_runs(
    viewer: ViewerDep,
    thread_id: ThreadPath,
    limit: Annotated[int | None, Query(description="Runs per page, 1 to 100 (20)")] = None,
    cursor: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
) -> RunPageBody:
    page = await agent_run_status.list_runs(
        viewer,
        _thread(thread_id),
        limit=limit,
        cursor=cursor,
        locs=(["query", "limit"], ["query", "cursor"]),
    )
    return RunPageBody(runs=[RunStatusBody.of(r) for r in page.runs], next_cursor=page.next_cursor)


@router.get(
    "/runs/{thread_id}/runs/{run_id}",
    response_model=RunStatusBody,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 404, 422),
    summary="One run's status",
)
async def get_run(
    viewer: ViewerDep, thread_id: ThreadPath, run_id: Annotated[str, Path()]
) -> RunStatusBody:
    return RunStatusBody.of(await agent_run_status.get_run(viewer, _thread(thread_id), run_id))


@router.post(
    "/runs/{thread_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelledBody,
    responses=problem_responses(401, 403, 404, 422),
    summary="Cancel a run, or every queued or running run of the thread",
)
async def cancel_run(
    services: ServicesDep,
    viewer: ViewerDep,
    thread_id: ThreadPath,
    body: CancelBody | None = None,
) -> CancelledBody:
    run_id = body.run_id if body is not None else None
    cancelled = await agent_cancel.cancel_runs(services, viewer, _thread(thread_id), run_id)
    return CancelledBody(cancelled=cancelled)


@router.get(
    "/runs/{thread_id}/history",
    response_model=HistoryEnvelope,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 404, 422),
    summary="The thread's messages of the most recent day before `before`",
)
async def thread_history(
    viewer: ViewerDep,
    thread_id: ThreadPath,
    before: Annotated[date | None, Query(description="YYYY-MM-DD (UTC)")] = None,
) -> dict[str, Any]:
    day = await agent_history.history_day(viewer, _thread(thread_id), before)
    return day.envelope()


@router.get(
    "/history",
    response_model=HistoryEnvelope,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 404, 422),
    summary="History of a thread, or of the caller's most recently active thread",
)
async def history(
    viewer: ViewerDep,
    thread_id: Annotated[str | None, Query(alias="threadId")] = None,
    before: Annotated[date | None, Query(description="YYYY-MM-DD (UTC)")] = None,
) -> dict[str, Any]:
    key = None
    if thread_id is not None:
        try:
            key = uuid.UUID(thread_id)
        except ValueError:
            raise InvalidInput(
                "threadId must be a UUID.", [{"loc": ["query", "threadId"], "msg": "not a UUID"}]
            ) from None
    return (await agent_history.history_day(viewer, key, before)).envelope()


@router.post(
    "",
    response_class=StreamingResponse,
    responses={**SSE_CONTENT, **problem_responses(401, 403, 422)},
    summary="Plain AG-UI transport: start a run and stream its events in the response",
)
async def run_agent(
    request: Request, services: ServicesDep, viewer: ViewerDep, body: RunInput
) -> StreamingResponse:
    run_input = agent_runs.parse_run_input(body)
    thread_id = str(agent_runs.thread_uuid(run_input.thread_id, ["body", "threadId"]))
    # Over the cap, refuse before the run is accepted: a 429 starts nothing.
    slot = await hold_stream(stream_caps_of(request.app.state), viewer)
    try:
        # Read from the stream's current end for a new run; a repeat reads the run from the start.
        after = await services.streams.last_id(thread_id)
        ticket = await agent_runs.accept_run(services, viewer, body)
    except BaseException:
        slot.release()
        raise
    events = run_events(services, thread_id, ticket.run_id, after if ticket.created else None)
    if cancels_on_disconnect(run_input):
        events = cancel_if_dropped(events, services, viewer, thread_id, ticket.run_id)
    return _stream(services, viewer, events, slot)


@router.get(
    "/capabilities",
    response_model=AgentCapabilities,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=problem_responses(401),
    summary="What the agent can do: AG-UI 1.0 AgentCapabilities",
    dependencies=[Depends(current_viewer)],  # for the signed-in only, whoever they are
)
async def capabilities(services: ServicesDep) -> AgentCapabilities:
    return agent_capabilities(services.settings)


def _stream(
    services: Services,
    viewer: Viewer,
    events: AsyncIterator[tuple[str, dict[str, Any]]],
    slot: StreamSlot,
) -> StreamingResponse:
    """The SSE response of a stream: it ends when the viewer signs out (at once, not at the
    thread's next event) and gives its slot back when it ends."""
    return sse_response(
        until_signed_out(services, viewer, events),
        services.settings.agent_sse_keepalive_s,
        slot.release,
        max_queued_bytes=services.settings.agent_sse_max_queued_bytes,
    )
