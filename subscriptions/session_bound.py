"""Ending a long-lived stream the moment its session is revoked.

A stream (agent SSE, a GraphQL subscription) authenticates once, when it starts. Checking the
session only when an event arrives would leave a signed-out client's stream open — and its
events flowing to it — until something happens on it, which for an idle thread may be never.
`until_signed_out` ends the stream as soon as the session is revoked in any process (the
revocation reaches every process through the event bus, see `infra/live_sessions.py`).

The stream is pumped by one task into a one-slot queue, so the cost per event is a queue hand-off,
not a task or a timer per event and subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

from infra.services import Services
from models import AuthSession
from resolvers.viewer import Viewer

T = TypeVar("T")


async def signed_in(viewer: Viewer) -> bool:
    return await AuthSession.filter(id=viewer.session_id, revoked_at=None).exists()


class _End:
    """What the pump hands over last: the stream's exception, if it raised one."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def until_signed_out(
    services: Services, viewer: Viewer, stream: AsyncIterator[T]
) -> AsyncIterator[T]:
    """`stream`'s items until it ends or the viewer's session is revoked."""
    queue: asyncio.Queue[T | _End] = asyncio.Queue(1)

    async def pump() -> None:
        try:
            async for item in stream:
                await queue.put(item)
        except Exception as exc:  # raised to the consumer, as the bare stream would
            await queue.put(_End(exc))
        else:
            await queue.put(_End())

    with services.live_sessions.watch(viewer.session_id) as watch:
        pumping = asyncio.create_task(pump())

        async def guard() -> None:
            while True:
                await watch.wait()
                if watch.revoked or not await signed_in(viewer):
                    break
                watch.clear()  # a false alarm after a Redis gap: the session is live
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pumping
            while not queue.empty():  # what the pump held back is not for a signed-out client
                queue.get_nowait()
            queue.put_nowait(_End())

        guarding = asyncio.create_task(guard())
        try:
            # Revoked between authentication and now: the revocation was published already.
            if not await signed_in(viewer):
                return
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            for task in (pumping, guarding):
                task.cancel()
            for task in (pumping, guarding):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
