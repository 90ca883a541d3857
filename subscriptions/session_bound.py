"""Ending a long-lived stream the moment its session is revoked.

A stream (agent SSE, a GraphQL subscription) authenticates once, when it starts. Checking the
session only when an event arrives would leave a signed-out client's stream open — and its
events flowing to it — until something happens on it, which for an idle thread may be never.
`until_signed_out` ends the stream as soon as the session is revoked in any process (the
revocation reaches every process through the event bus, see `infra/live_sessions.py`).

The stream is iterated directly, in the consumer's task: an event costs nothing more than the
bare stream. The watch is one callback registered with `LiveSessions`; on a revocation it
cancels the consumer while that waits inside the stream (and only then: anywhere else, the
consumer sees the flag at its next step), and the cancellation it caused is taken back
(`Task.uncancel`) so that the consumer just sees the stream end. No task or queue per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from infra.services import Services
from models import AuthSession
from resolvers.viewer import Viewer

T = TypeVar("T")

log = logging.getLogger(__name__)


async def signed_in(viewer: Viewer) -> bool:
    return await AuthSession.filter(id=viewer.session_id, revoked_at=None).exists()


class _Watch:
    """What the session's alarm and the iteration share."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.ended = False  # the session ended: the stream yields nothing more
        self.waiting: asyncio.Task[object] | None = None  # the consumer, while inside the stream
        self.cancelled = False  # `end` cancelled the consumer: not the consumer's own cancel
        self.recheck: asyncio.Task[None] | None = None

    def alarm(self, revoked: bool) -> None:
        if revoked:
            self.end()
        elif self.recheck is None or self.recheck.done():
            # Revocations may have been missed (Redis was away): rare, so a task is fine here.
            self.recheck = asyncio.get_running_loop().create_task(self._look_up())

    async def _look_up(self) -> None:
        try:
            live = await signed_in(self.viewer)
        except Exception:  # the session cannot be checked: end the stream rather than risk it
            log.warning("cannot check a stream's session; ending the stream", exc_info=True)
            live = False
        if not live:
            self.end()

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        task = self.waiting
        if task is not None and task is not asyncio.current_task() and not self.cancelled:
            self.cancelled = True
            task.cancel()

    def close(self) -> None:
        if self.recheck is not None:
            self.recheck.cancel()


async def until_signed_out(
    services: Services, viewer: Viewer, stream: AsyncIterator[T]
) -> AsyncIterator[T]:
    """`stream`'s items until it ends or the viewer's session is revoked."""
    watch = _Watch(viewer)
    try:
        with services.live_sessions.watch(viewer.session_id, watch.alarm):
            # Revoked between authentication and now: the revocation was published already.
            if not await signed_in(viewer):
                return
            while not watch.ended:
                task = asyncio.current_task()
                watch.waiting = task
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if watch.cancelled:
                        watch.cancelled = False
                        assert task is not None
                        if task.uncancel() == 0:  # ours alone: the stream just ends
                            return
                    raise
                finally:
                    watch.waiting = None
                if watch.cancelled:
                    # The cancel came when the stream had already produced its item: it is
                    # still pending on the task; take it back, and drop the item.
                    assert task is not None
                    task.uncancel()
                    return
                if watch.ended:
                    return  # an item produced after the sign-out is not for this client
                yield item
    finally:
        watch.close()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
