"""The agent runtime's GraphQL fields (docs/contract.md §4 and §5)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import date

import strawberry
from strawberry.scalars import JSON

from agent_runtime.capabilities import capabilities_json
from resolvers import agent_cancel, agent_history, agent_run_status, agent_runs
from resolvers.agent_threads import list_threads
from resolvers.errors import InvalidInput
from schema.context import GqlInfo, require_viewer
from schema.group_feed import EventFeed
from schema.subscription import stream_slot
from schema.types.agent import AgentEvent, AgentHistoryDay, AgentRunTicket, AgentThread
from schema.types.agent_runs import AgentRun
from subscriptions.agent_events import check_cursor, open_thread_events
from subscriptions.session_bound import until_signed_out


def parse_thread_id(value: str, loc: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(
            "threadId must be a UUID.", [{"loc": [loc], "msg": "not a UUID"}]
        ) from None


def _resume_input(value: object) -> object:
    """A resume that only answers interrupts has no new message, and AG-UI's RunAgentInput
    requires `messages`: a missing one is none (as on `POST /agent/runs/{id}/resume`)."""
    if isinstance(value, dict) and "messages" not in value:
        return {**value, "messages": []}
    return value


@strawberry.type
class AgentQuery:
    @strawberry.field(description="The caller's agent threads, most recently active first.")
    async def agent_threads(self, info: GqlInfo) -> list[AgentThread]:
        viewer = await require_viewer(info)
        return [AgentThread.of(row) for row in await list_threads(viewer)]

    @strawberry.field(
        description="A thread's messages of the most recent UTC day before `before` (default: "
        "today included); without threadId, the caller's most recently active thread."
    )
    async def agent_history(
        self, info: GqlInfo, thread_id: strawberry.ID | None = None, before: date | None = None
    ) -> AgentHistoryDay:
        viewer = await require_viewer(info)
        key = parse_thread_id(thread_id, "threadId") if thread_id is not None else None
        return AgentHistoryDay.of(await agent_history.history_day(viewer, key, before))

    @strawberry.field(
        description="What the agent can do: an AG-UI 1.0 AgentCapabilities object (camelCase)."
    )
    async def agent_capabilities(self, info: GqlInfo) -> JSON:
        await require_viewer(info)
        return JSON(capabilities_json(info.context.services.settings))

    @strawberry.field(description="One run's status.")
    async def agent_run(self, info: GqlInfo, thread_id: strawberry.ID, run_id: str) -> AgentRun:
        viewer = await require_viewer(info)
        key = parse_thread_id(thread_id, "threadId")
        return AgentRun.of(await agent_run_status.get_run(viewer, key, run_id))


@strawberry.type
class AgentMutation:
    @strawberry.mutation(description="Start an agent run; `input` is an AG-UI RunAgentInput.")
    async def start_agent_run(self, info: GqlInfo, input: JSON) -> AgentRunTicket:
        viewer = await require_viewer(info)
        ticket = await agent_runs.accept_run(info.context.services, viewer, input)
        return AgentRunTicket.of(ticket)

    @strawberry.mutation(
        description="Continue a thread, answering its open tool calls or approvals; `input` is "
        "an AG-UI RunAgentInput whose `messages` may be left out (none)."
    )
    async def resume_agent_run(
        self, info: GqlInfo, thread_id: strawberry.ID, input: JSON
    ) -> AgentRunTicket:
        viewer = await require_viewer(info)
        ticket = await agent_runs.accept_run(
            info.context.services, viewer, _resume_input(input), path_thread_id=str(thread_id)
        )
        return AgentRunTicket.of(ticket)

    @strawberry.mutation(
        description="Cancel a run, or without runId every queued or running run of the thread; "
        "returns the run ids the cancel applies to (a run that already ended is not listed)."
    )
    async def cancel_agent_run(
        self, info: GqlInfo, thread_id: strawberry.ID, run_id: str | None = None
    ) -> list[str]:
        viewer = await require_viewer(info)
        key = parse_thread_id(thread_id, "threadId")
        return await agent_cancel.cancel_runs(info.context.services, viewer, key, run_id)


@strawberry.type
class AgentSubscription:
    @strawberry.subscription(
        description="The thread's AG-UI events, strictly after `after` (a stream id, exactly "
        "like Last-Event-ID); without it, from the oldest event the stream holds."
    )
    async def agent_events(
        self, info: GqlInfo, thread_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[AgentEvent, None]:
        feed: object = self
        if isinstance(feed, EventFeed):
            # One execution for a group of subscribers: each of them was checked (viewer,
            # cursor, thread, stream slot) when it joined, and the feed is the group's stream.
            async for event_id, event in feed:
                yield AgentEvent.of(event_id, event)
            return
        viewer = await require_viewer(info)
        cursor = check_cursor(after, ["after"])
        services = info.context.services
        key = parse_thread_id(thread_id, "threadId")
        with await stream_slot(info, viewer):
            events = until_signed_out(
                services, viewer, await open_thread_events(services, viewer, key, cursor)
            )
            try:
                async for event_id, event in events:
                    yield AgentEvent.of(event_id, event)
            finally:
                await events.aclose()  # type: ignore[attr-defined]
