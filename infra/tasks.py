"""Stopping background tasks without hanging on one that ignores its cancellation."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[object] | asyncio.Task[None], wait_s: float = 5.0) -> None:
    """Cancel `task` and wait up to `wait_s` for it to end. Some client libraries (redis-py's
    pub/sub, taskiq's receiver) can absorb a cancellation in the middle of a read; shutting
    down must not wait on them forever."""
    if task.done():
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=wait_s)
    if not done:
        log.warning("background task %s did not stop within %.0f s", task.get_name(), wait_s)
