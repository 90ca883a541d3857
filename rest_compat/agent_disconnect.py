"""`POST /agent` with `forwardedProps.cancelOnDisconnect: true`: a client that leaves before its
run ended (`HttpAgent.abortRun()`, a closed tab) cancels the run. Without the flag the run goes
on, and a later subscriber of the thread sees all of it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ag_ui.core import RunAgentInput

from infra.services import Services
from resolvers.agent_cancel import cancel_runs
from resolvers.viewer import Viewer
from subscriptions.agent_events import TERMINAL

log = logging.getLogger(__name__)

# Cancels started by a dropped response: referenced until done (the response is gone by then).
_pending: set[asyncio.Task[None]] = set()


def cancels_on_disconnect(run_input: RunAgentInput) -> bool:
    props = run_input.forwarded_props
    return isinstance(props, dict) and props.get("cancelOnDisconnect") is True


async def _cancel(services: Services, viewer: Viewer, thread_id: str, run_id: str) -> None:
    try:
        await cancel_runs(services, viewer, uuid.UUID(thread_id), run_id)
    except Exception:
        log.exception("cancelling run %s after its client left failed", run_id)


async def cancel_if_dropped(
    events: AsyncIterator[tuple[str, dict[str, Any]]],
    services: Services,
    viewer: Viewer,
    thread_id: str,
    run_id: str,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    ended = False
    try:
        async for event_id, event in events:
            yield event_id, event
            if event.get("type") in TERMINAL and event.get("runId", run_id) == run_id:
                ended = True
    finally:
        if not ended:
            # A task of its own: this generator is being closed, perhaps by a cancellation.
            task = asyncio.create_task(_cancel(services, viewer, thread_id, run_id))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
