"""A thread's AG-UI events for SSE and the `agentEvents` subscription, resumable by stream id.

`open_thread_events` checks everything first (the caller owns the thread, the cursor is well
formed), so that a transport can answer with an error status before it starts streaming; the
iterator it returns then yields `(stream id, event)` until the caller leaves.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from ag_ui.core import MessagesSnapshotEvent, StateSnapshotEvent

from infra.event_streams import compare_ids, parse_stream_id
from infra.rate_limits import RateLimitExceeded
from infra.services import Services
from infra.stream_caps import StreamCaps, StreamSlot
from models import AgentThread
from resolvers.agent_threads import NOT_YOURS, load_messages, parse_messages
from resolvers.errors import Forbidden, InvalidInput, RateLimited
from resolvers.viewer import Viewer

Event = dict[str, Any]

TERMINAL = frozenset({"RUN_FINISHED", "RUN_ERROR"})


def stream_caps_of(app_state: Any) -> StreamCaps:
    """The app's per-user caps on open streams (`server.app` puts them on `app.state`)."""
    caps = getattr(app_state, "stream_caps", None)
    assert isinstance(caps, StreamCaps), "the app has no stream_caps"
    return caps


async def hold_stream(caps: StreamCaps, viewer: Viewer) -> StreamSlot:
    """One of the viewer's `MAX_STREAMS_PER_USER` slots (counted across processes) for a
    long-lived stream (agent SSE or a GraphQL subscription), or 429 / RATE_LIMITED when they
    all are in use. The caller releases it when the stream ends."""
    try:
        return await caps.acquire(viewer.user_id)
    except RateLimitExceeded as exc:
        raise RateLimited(exc.retry_after) from None


def check_cursor(after: str | None, loc: list[str]) -> str | None:
    """A `Last-Event-ID` value, or 422 when it is not `<ms>-<seq>`."""
    if after is None:
        return None
    after = after.strip()
    if parse_stream_id(after) is None:
        raise InvalidInput(
            "The event id must look like '<milliseconds>-<sequence>', e.g. '1700000000000-0'.",
            [{"loc": loc, "msg": "malformed stream id"}],
        )
    return after


async def open_thread_events(
    services: Services, viewer: Viewer, thread_id: uuid.UUID, after: str | None
) -> AsyncIterator[tuple[str, Event]]:
    """403 for another user's thread. A thread that does not exist yet can be watched: clients
    open the stream first and then start the thread's first run, so the stream waits for it,
    and delivers it only if the run that creates the thread is the caller's."""
    thread = await AgentThread.get_or_none(id=thread_id)
    if thread is None:
        return _future_thread_events(services, viewer, thread_id, after)
    if thread.owner_id != viewer.user_id:
        raise Forbidden(NOT_YOURS)
    return _events(services, thread, after)


async def _future_thread_events(
    services: Services, viewer: Viewer, thread_id: uuid.UUID, after: str | None
) -> AsyncIterator[tuple[str, Event]]:
    checked = False
    async for event_id, event in services.streams.tail(str(thread_id), after):
        if not checked:
            # The thread row is written before its first event, and its owner never changes.
            owned = await AgentThread.exists(id=thread_id, owner_id=viewer.user_id)
            if not owned:
                return
            checked = True
        yield event_id, event


async def _lost_events(services: Services, thread: AgentThread, after: str | None) -> bool:
    """True when events after `after` were trimmed away: the client needs snapshots."""
    if after is None or thread.last_event_id is None:
        return False
    if compare_ids(after, thread.last_event_id) >= 0:
        return False  # the client has seen everything the stored thread reflects
    oldest = await services.streams.oldest_id(str(thread.id))
    if oldest is None:
        return True  # the whole stream aged out
    trimmed = thread.first_event_id is not None and compare_ids(oldest, thread.first_event_id) > 0
    return trimmed and compare_ids(after, oldest) < 0


async def _events(
    services: Services, thread: AgentThread, after: str | None
) -> AsyncIterator[tuple[str, Event]]:
    if await _lost_events(services, thread, after):
        # Re-read the thread: its rows and `last_event_id` are stored together, so the
        # snapshots are exactly the thread as of that event; the stream continues after it.
        thread = await AgentThread.get(id=thread.id)
        cursor = thread.last_event_id
        assert cursor is not None
        messages = MessagesSnapshotEvent(messages=parse_messages(await load_messages(thread.id)))
        state = StateSnapshotEvent(snapshot=thread.state)
        # The messages snapshot keeps the client's own id: a client that drops between the two
        # snapshots and resumes from it gets both again. The state snapshot completes the
        # picture, so it carries the id of the newest event the snapshots reflect.
        assert after is not None
        yield after, messages.model_dump(by_alias=True, exclude_none=True, mode="json")
        yield cursor, state.model_dump(by_alias=True, exclude_none=True, mode="json")
        after = cursor
    async for event_id, event in services.streams.tail(str(thread.id), after):
        yield event_id, event


async def run_events(
    services: Services, thread_id: str, run_id: str, after: str | None
) -> AsyncIterator[tuple[str, Event]]:
    """The events of one run (from its `RUN_STARTED` to its end), read from `after` on."""
    started = False
    async for event_id, event in services.streams.tail(thread_id, after):
        kind = event.get("type")
        if not started:
            started = kind == "RUN_STARTED" and event.get("runId") == run_id
            if not started:
                continue
        elif kind == "RUN_STARTED":
            return  # the run ended without a terminal event we could see
        yield event_id, event
        if kind in TERMINAL:
            return
