"""Turning a thread's events into a `text/event-stream` response, with keep-alive comments."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from infra.sse import format_sse, keepalive
from observability.metrics import SSE_STREAMS_OPEN

_QUEUE = 64  # encoded events held for a slow client; beyond it the stream's own buffer takes over

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# Every subscriber of a thread receives the very same event object from the stream's reader, so
# an event is encoded once per process however many clients watch it. Keyed by the object's
# identity (the entry keeps the object alive, so the identity cannot be reused meanwhile).
_ENCODED_MAX = 4096
_encoded_cache: dict[tuple[int, str], tuple[dict[str, Any], bytes]] = {}


def _encoded(event_id: str, event: dict[str, Any]) -> bytes:
    key = (id(event), event_id)
    hit = _encoded_cache.get(key)
    if hit is not None and hit[0] is event:
        return hit[1]
    data = format_sse(event_id, str(event.get("type")), orjson.dumps(event).decode())
    if len(_encoded_cache) >= _ENCODED_MAX:
        del _encoded_cache[next(iter(_encoded_cache))]  # the oldest entry
    _encoded_cache[key] = (event, data)
    return data


async def _sse(
    events: AsyncIterator[tuple[str, dict[str, Any]]],
    keepalive_s: float,
    on_close: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    # The events are pumped by a task of their own, so that a keep-alive can be sent while the
    # reader waits, without cancelling it in the middle of an event. Keep-alives come from a
    # ticker that wakes once per interval, not from a timeout around every event: a timer per
    # event and subscriber is most of the cost of fanning an event out to many clients.
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUE)
    active = [False]  # something was sent since the ticker's last look

    async def pump() -> None:
        try:
            async for event_id, event in events:
                await queue.put(_encoded(event_id, event))
        finally:
            await queue.put(None)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(keepalive_s)
            if not active[0] and queue.empty():
                queue.put_nowait(keepalive())
            active[0] = False

    task = asyncio.create_task(pump())
    ticking = asyncio.create_task(ticker())
    try:
        while True:
            chunk = await queue.get()
            if chunk is None:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
                return
            # Whatever else is already waiting goes out in the same write: each write passes
            # through the whole middleware stack, so a busy stream sends fewer, larger ones.
            chunks = [chunk]
            ended = False
            while not queue.empty():
                more = queue.get_nowait()
                if more is None:
                    ended = True
                    break
                chunks.append(more)
            active[0] = True
            yield b"".join(chunks)
            if ended:
                return
    finally:
        for background in (task, ticking):
            background.cancel()
        for background in (task, ticking):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await background
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
        if on_close is not None:
            on_close()


class _SseResponse(StreamingResponse):
    """Calls `on_close` once the response is over, however it ended: also when the client left
    before the first byte, when the body iterator never started."""

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None] | None) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        SSE_STREAMS_OPEN.inc()
        try:
            await super().__call__(scope, receive, send)
        finally:
            SSE_STREAMS_OPEN.dec()
            if self._on_close is not None:
                self._on_close()


def sse_response(
    events: AsyncIterator[tuple[str, dict[str, Any]]],
    keepalive_s: float,
    on_close: Callable[[], None] | None = None,
) -> StreamingResponse:
    """`on_close` (idempotent) runs when the stream ends: it releases the stream's slot of the
    per-user cap."""
    return _SseResponse(_sse(events, keepalive_s, on_close), on_close)
