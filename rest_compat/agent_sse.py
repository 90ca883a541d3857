"""Turning a thread's events into a `text/event-stream` response, with keep-alive comments.

Per connection, one task reads the events (encoding each once per process, see `_encoded`) into
a list of pending frames, and the response's own task writes them: everything pending goes out
in one write, so a client that reads slowly gets fewer, larger writes instead of one await per
event. The body is written with the ASGI server's own `send` (`infra/direct_send.py`), past the
middlewares' wrappers. A client that leaves more than `max_queued_bytes` unread while a write
waits for it is disconnected: it resumes with `Last-Event-ID` and loses nothing, since only
whole frames are ever written. Keep-alives come from one ticker per process and interval, not
from a task or timer per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from infra.direct_send import direct_send
from infra.sse import format_sse, keepalive
from observability.metrics import SSE_STREAMS_OPEN

log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DEFAULT_MAX_QUEUED_BYTES = 1 << 20
_CLOSE_GRACE_S = 1.0  # how long the end of a dropped client's response may wait for the socket

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


class _Connection:
    """One SSE response's pending frames, between the task reading events and the one writing."""

    def __init__(self, max_queued_bytes: int) -> None:
        self.max_queued_bytes = max_queued_bytes
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.wake = asyncio.Event()  # something to write, or the end
        self.taken = asyncio.Event()  # the writer took what was pending
        self.ended = False  # no more events: the stream ended, or the client left or lagged
        self.error: BaseException | None = None
        self.dropped = False  # too far behind: disconnected
        self.writer: asyncio.Task[Any] | None = None
        self.writing = False  # the writer waits inside a write: the client is not reading
        self.cancelled = False
        self.active = False  # written since the ticker's last look

    async def read(self, events: AsyncIterator[tuple[str, dict[str, Any]]]) -> None:
        try:
            async for event_id, event in events:
                frame = _encoded(event_id, event)
                self.pending.append(frame)
                self.pending_bytes += len(frame)
                self.wake.set()
                if self.pending_bytes > self.max_queued_bytes:
                    if self.writing:
                        self.drop()
                        return
                    # The writer has not run yet (a long backlog read at once): wait for it
                    # rather than drop a client that keeps up.
                    self.taken.clear()
                    await self.taken.wait()
        except Exception as exc:  # raised to the response, as the bare stream would
            self.error = exc
        finally:
            self.end()

    def drop(self) -> None:
        log.info("SSE client %d bytes behind: disconnected (it resumes)", self.pending_bytes)
        self.dropped = True
        self.pending.clear()
        self.pending_bytes = 0
        if self.writing and self.writer is not None and not self.cancelled:
            self.cancelled = True
            self.writer.cancel()
        self.end()

    def end(self) -> None:
        self.ended = True
        self.wake.set()

    def tick(self) -> None:
        if not self.active and not self.pending:
            self.pending.append(keepalive())
            self.pending_bytes += len(self.pending[-1])
            self.wake.set()
        self.active = False

    async def write(self, send: Send) -> None:
        """Writes until the events end, the client leaves or is dropped."""
        self.writer = asyncio.current_task()
        while True:
            if not self.pending:
                if self.ended:
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            body = b"".join(self.pending)
            self.pending.clear()
            self.pending_bytes = 0
            self.taken.set()
            self.active = True
            self.writing = True
            try:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            except asyncio.CancelledError:
                if self.cancelled:
                    self.cancelled = False
                    assert self.writer is not None
                    if self.writer.uncancel() == 0:  # `drop` stopped this write
                        return
                raise
            finally:
                self.writing = False


class _Heartbeat:
    """Keep-alives for every open SSE response of one interval, from one task."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.loop = asyncio.get_running_loop()
        self.connections: set[_Connection] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, connection: _Connection) -> None:
        self.connections.add(connection)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._tick())

    def discard(self, connection: _Connection) -> None:
        self.connections.discard(connection)
        if not self.connections and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            for connection in list(self.connections):
                connection.tick()


_heartbeats: dict[float, _Heartbeat] = {}


def _heartbeat(interval_s: float) -> _Heartbeat:
    beat = _heartbeats.get(interval_s)
    if beat is None or beat.loop is not asyncio.get_running_loop():
        beat = _heartbeats[interval_s] = _Heartbeat(interval_s)
    return beat


async def _until_disconnect(receive: Receive, connection: _Connection) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    connection.end()


class _SseResponse(StreamingResponse):
    """Calls `on_close` once the response is over, however it ended: also when the client left
    before the first byte."""

    def __init__(
        self,
        events: AsyncIterator[tuple[str, dict[str, Any]]],
        keepalive_s: float,
        max_queued_bytes: int,
        on_close: Callable[[], None] | None,
    ) -> None:
        # Not `super().__init__`: the body is written by `__call__`, not by Starlette's loop.
        self.status_code = 200
        self.media_type = "text/event-stream"
        self.background = None
        self.init_headers(SSE_HEADERS)
        self._events = events
        self._keepalive_s = keepalive_s
        self._max_queued_bytes = max_queued_bytes
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = _Connection(self._max_queued_bytes)
        beat = _heartbeat(self._keepalive_s)
        reading: asyncio.Task[None] | None = None
        listening: asyncio.Task[None] | None = None
        SSE_STREAMS_OPEN.inc()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            body_send = direct_send(scope, send)
            reading = asyncio.create_task(connection.read(self._events))
            listening = asyncio.create_task(_until_disconnect(receive, connection))
            beat.add(connection)
            await connection.write(body_send)
            if connection.error is not None:
                raise connection.error
            # A dropped client's socket may be full: its end waits briefly, then the server
            # closes the connection (and notes that the response was incomplete).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CLOSE_GRACE_S if connection.dropped else None):
                    await body_send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            SSE_STREAMS_OPEN.dec()
            beat.discard(connection)
            for task in (reading, listening):
                if task is not None:
                    task.cancel()
            for task in (reading, listening):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            if self._on_close is not None:
                self._on_close()


def sse_response(
    events: AsyncIterator[tuple[str, dict[str, Any]]],
    keepalive_s: float,
    on_close: Callable[[], None] | None = None,
    *,
    max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
) -> StreamingResponse:
    """`on_close` (idempotent) runs when the stream ends: it releases the stream's slot of the
    per-user cap."""
    return _SseResponse(events, keepalive_s, max_queued_bytes, on_close)
