"""Cancelling agent runs, from any process.

A cancel is recorded on the run's row first (`cancel_requested_at`), then announced on the event
bus channel `cancel_channel(thread)`. What happens next depends on the run's status:

- running: the worker executing it hears the announcement (or sees the column when it next
  renews its lease) and ends the run itself, as `cancelled`;
- queued: it never starts. Whoever claims it next (a worker, or the canceller right away when it
  is the thread's turn) writes its `RUN_STARTED` and cancelled `RUN_FINISHED` instead, so its
  events stay in the thread's order and a client waiting for them sees the run end;
- interrupted (waiting for approval): the canceller ends it here: its open approvals are
  answered as cancelled (tool results, so the conversation stays valid for the model) and dropped
  from `pendingApprovals`, inside a `RUN_STARTED` … `RUN_FINISHED` of the same run id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from ag_ui.core import (
    BaseEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunStartedEvent,
    StateDeltaEvent,
    ToolCallResultEvent,
)
from tortoise.transactions import in_transaction

from infra.services import Services
from models import AgentRun, AgentThread
from models.agent import CANCELLED, INTERRUPTED, QUEUED, RUNNING, UNFINISHED
from resolvers.agent_run_status import RUN_NOT_FOUND
from resolvers.agent_threads import PENDING_APPROVALS, append_messages, checkpoint, owned_thread
from resolvers.errors import NotFound
from resolvers.viewer import Viewer

PROTOCOL_VERSION = "1.0"
CANCELLER = "canceller"  # the `worker` of a run the canceller itself is ending
CANCEL_KIND = "CANCEL"
CANCELLED_RESULT = {"ok": False, "cancelled": True, "reason": "The run was cancelled."}


def cancel_channel(thread_id: object) -> str:
    return f"agent-cancel:{thread_id}"


def _now() -> datetime:
    return datetime.now(UTC)


def _dump(event: BaseEvent) -> dict[str, Any]:
    return event.model_dump(by_alias=True, exclude_none=True, mode="json")


async def cancel_runs(
    services: Services, viewer: Viewer, thread_id: uuid.UUID, run_id: str | None
) -> list[str]:
    """Cancel one run (or, without `run_id`, every queued or running run of the thread); returns
    the run ids the cancel applies to. A run that already ended is left as it is (not listed),
    so repeating a cancel is harmless."""
    thread = await owned_thread(viewer, thread_id)
    if run_id is not None:
        run = await AgentRun.get_or_none(thread_id=thread.id, run_id=run_id)
        if run is None:
            raise NotFound(RUN_NOT_FOUND)
        if run.status == INTERRUPTED:
            if not await _take_interrupted(run):
                return []
            await _end_interrupted(services, thread, run)
            return [run.run_id]
        targets = [run] if run.status in UNFINISHED else []
    else:
        targets = await AgentRun.filter(thread_id=thread.id, status__in=UNFINISHED).order_by("id")
    cancelled: list[AgentRun] = []
    now = _now()
    for run in targets:
        # Still cancellable now (a queued run may have started meanwhile, which changes nothing;
        # one that ended is left alone). A repeated cancel keeps the first request's time.
        still = AgentRun.filter(id=run.id, status__in=UNFINISHED)
        first = await still.filter(cancel_requested_at__isnull=True).update(cancel_requested_at=now)
        if first or await still.exists():
            cancelled.append(run)
    if not cancelled:
        return []
    await services.events.publish(
        cancel_channel(thread.id), {"kind": CANCEL_KIND, "runs": [r.id for r in cancelled]}
    )
    await settle_queued(services, thread.id)
    return [r.run_id for r in cancelled]


async def _take_interrupted(run: AgentRun) -> bool:
    """End an interrupted run as cancelled, unless a later run took up the thread already (a
    resume answering it, or a new message): then it is history, like a finished run."""
    now = _now()
    async with in_transaction():
        # The lock a run answering approvals takes when it is accepted (resolvers/agent_runs.py):
        # either that resume is recorded first and this run is history, or the cancel is, and
        # the resume finds nothing left to answer.
        await AgentThread.select_for_update().filter(id=run.thread_id).first()
        later = AgentRun.filter(thread_id=run.thread_id, id__gt=run.id).exclude(status=CANCELLED)
        if await later.exists():
            return False
        ended = await AgentRun.filter(id=run.id, status=INTERRUPTED).update(
            status=CANCELLED, finished_at=now, cancel_requested_at=now
        )
    return bool(ended)


async def _emit(
    services: Services,
    thread: AgentThread,
    events: list[BaseEvent],
    *,
    state: dict[str, Any] | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> None:
    """Append the events to the thread's stream, then store what they carry (messages, state)
    with the id of the last one, as a run session does: a snapshot never runs ahead of it."""
    last: str | None = None
    for event in events:
        last = await services.streams.append(str(thread.id), _dump(event))
    if messages:
        await append_messages(thread.id, messages)
    await checkpoint(thread, state=state, event_id=last)


async def _end_interrupted(services: Services, thread: AgentThread, run: AgentRun) -> None:
    """The events of an interrupted run that was just cancelled: its open approvals answered as
    cancelled and dropped from the state."""
    thread = await AgentThread.get(id=thread.id)
    state = dict(thread.state or {})
    entries = state.get(PENDING_APPROVALS)
    entries = entries if isinstance(entries, list) else []
    open_entries = [
        (index, e)
        for index, e in enumerate(entries)
        if isinstance(e, dict) and e.get("status") == "pending"
    ]
    events: list[BaseEvent] = [
        RunStartedEvent(
            thread_id=str(thread.id), run_id=run.run_id, protocol_version=PROTOCOL_VERSION
        )
    ]
    results: list[dict[str, Any]] = []
    content = orjson.dumps(CANCELLED_RESULT).decode()
    for _, entry in open_entries:
        message_id = str(uuid.uuid4())
        call_id = str(entry.get("toolCallId"))
        events.append(
            ToolCallResultEvent(
                message_id=message_id, tool_call_id=call_id, content=content, role="tool"
            )
        )
        results.append(
            {"id": message_id, "role": "tool", "toolCallId": call_id, "content": content}
        )
    if open_entries:
        # Highest index first, so each removal leaves the earlier indexes in place.
        delta = [
            {"op": "remove", "path": f"/{PENDING_APPROVALS}/{index}"}
            for index, _ in reversed(open_entries)
        ]
        events.append(StateDeltaEvent.model_validate({"delta": delta}))
        dropped = {index for index, _ in open_entries}
        state[PENDING_APPROVALS] = [e for i, e in enumerate(entries) if i not in dropped]
    events.append(
        RunFinishedEvent(
            thread_id=str(thread.id), run_id=run.run_id, outcome=RunFinishedCancelledOutcome()
        )
    )
    await _emit(services, thread, events, state=state, messages=results)


async def end_cancelled_queued(services: Services, run: AgentRun) -> None:
    """Write the events of a claimed (status running) run whose cancel came while it was queued:
    it starts and at once ends as cancelled; then mark it so."""
    thread = await AgentThread.get(id=run.thread_id)
    await _emit(
        services,
        thread,
        [
            RunStartedEvent(
                thread_id=str(thread.id),
                run_id=run.run_id,
                parent_run_id=(run.input or {}).get("parentRunId"),
                protocol_version=PROTOCOL_VERSION,
            ),
            RunFinishedEvent(
                thread_id=str(thread.id),
                run_id=run.run_id,
                outcome=RunFinishedCancelledOutcome(),
            ),
        ],
    )
    # It never started: no start time, whoever claimed it to write its events.
    await AgentRun.filter(id=run.id, status=RUNNING, worker=run.worker).update(
        status=CANCELLED, started_at=None, finished_at=_now(), lease_expires_at=None
    )


async def settle_queued(services: Services, thread_id: uuid.UUID) -> None:
    """End the thread's cancelled queued runs that are next in line (the claim is the same
    conditional one a worker makes, so exactly one process ends each), then hand the thread's
    next queued run to the workers, since a job dropped behind a cancelled run waits for it."""
    lease = timedelta(seconds=services.settings.agent_run_lease_s)
    while True:
        run = await AgentRun.filter(thread_id=thread_id, status=QUEUED).order_by("id").first()
        if run is None:
            return
        earlier = AgentRun.filter(thread_id=thread_id, id__lt=run.id, status__in=UNFINISHED)
        if await earlier.exists():
            return  # the earlier run's worker continues with this one
        if run.cancel_requested_at is None:
            await services.run_queue.submit(run.id)
            return
        now = _now()
        claimed = await AgentRun.filter(id=run.id, status=QUEUED).update(
            status=RUNNING, worker=CANCELLER, lease_expires_at=now + lease
        )
        if not claimed:
            return  # a worker claimed it: it sees the cancel and ends it
        run.worker = CANCELLER
        await end_cancelled_queued(services, run)
