"""What both implementations share: the `EventStreams` interface and its live fan-out.

Live delivery fans out inside the process: however many clients tail a thread, the process runs
one reader for it (for Redis, one blocking `XREAD` on a dedicated connection) that copies each new
event into the subscribers' local buffers. A subscriber first reads its backlog with a range read
and then takes events from its buffer, skipping ids it has already yielded; a subscriber too slow
for its buffer falls back to a range read from its cursor, so nothing is ever lost or repeated.

A subscriber's range reads are retried while Redis restarts, so tails survive the restart
(docs/operations.md). When the server is asked to stop (SIGTERM), every tail ends at once, so SSE
responses end cleanly and clients resume with `Last-Event-ID` on the next server instead of
holding up the shutdown (`end_tails_on_shutdown`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from infra.event_streams.ids import StreamId, format_id, require_id
from infra.redis_client import redis_unreachable
from observability.metrics import FANOUT_LAG, count_fanned_out

# The package's one logger, named as it was when the package was a single module.
log = logging.getLogger(__package__)

Event = dict[str, Any]

BACKOFF_MAX_S = 2.0
PAGE = 500  # entries per range read while catching up
BUFFER_LIMIT = 1000  # live events held for one subscriber before it must catch up by range


@dataclass(eq=False)
class _Subscriber:
    """One `tail()`'s live buffer, filled by the thread's reader."""

    limit: int
    items: deque[tuple[StreamId, str, Event]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Set on joining (the backlog is still to be read) and on overflow (events were dropped):
    # either way the subscriber re-reads by range from its cursor.
    catch_up: bool = True
    closed: bool = False  # the streams object was closed: the tail ends

    def deliver(self, key: StreamId, text: str, event: Event) -> None:
        if self.catch_up:
            # A range read is due anyway; buffering would only be deduplicated away.
            self.wake.set()
            return
        if len(self.items) >= self.limit:
            # Too slow: drop the buffer instead of growing without bound. The events stay in the
            # stream, so the range read that follows recovers them.
            self.items.clear()
            self.catch_up = True
        else:
            self.items.append((key, text, event))
        self.wake.set()


class EventStreams(ABC):
    """The interface both implementations share. Events are JSON objects; what `read_after` and
    `tail` yield is shared between subscribers and must not be mutated."""

    def __init__(self, *, buffer_limit: int = BUFFER_LIMIT) -> None:
        self._buffer_limit = buffer_limit
        self._subscribers: dict[str, set[_Subscriber]] = {}
        self._closed = False

    @abstractmethod
    async def append(self, thread_id: str, event: Event) -> str:
        """Add an event at the end of the thread's stream; returns its id."""

    @abstractmethod
    async def read_after(
        self, thread_id: str, after: str | None, count: int = PAGE
    ) -> list[tuple[str, Event]]:
        """Up to `count` events with ids strictly after `after` (from the oldest when None)."""

    @abstractmethod
    async def oldest_id(self, thread_id: str) -> str | None:
        """The id of the oldest event the stream still holds (None when empty)."""

    @abstractmethod
    async def last_id(self, thread_id: str) -> str | None:
        """The id of the newest event (None when empty)."""

    @abstractmethod
    async def delete(self, thread_id: str) -> None:
        """Drop the thread's stream."""

    async def close(self) -> None:
        """End every running tail and stop background work."""
        self._closed = True
        self.end_tails()

    def end_tails(self) -> None:
        """End every running tail (and any started later) without closing the streams: the
        server is stopping, and its SSE clients should resume on the next one."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.closed = True
                subscriber.wake.set()

    @abstractmethod
    async def _start_live(self, thread_id: str) -> None:
        """Make sure the thread has live delivery; returns once every event appended from now
        on will reach the thread's subscribers."""

    @abstractmethod
    def _stop_live(self, thread_id: str) -> None:
        """The thread's last subscriber left (synchronous: it runs in generator finalisers)."""

    def subscriber_count(self, thread_id: str) -> int:
        return len(self._subscribers.get(thread_id, ()))

    def _fan_out(self, thread_id: str, text: str, event: Event) -> None:
        subscribers = self._subscribers.get(thread_id)
        if subscribers:
            key = require_id(text)
            for subscriber in subscribers:
                subscriber.deliver(key, text, event)
            # An entry's id starts with the millisecond it was appended at (Redis' clock, or
            # this process's in memory): the lag is how long it took to reach the subscribers.
            lag = time.time() - key[0] / 1000
            if 0 <= lag < 3600:  # a stream on another clock (tests) says nothing
                FANOUT_LAG.observe(lag)
            count_fanned_out("agent", len(subscribers))

    async def _read_backlog(
        self, thread_id: str, after: str | None, count: int
    ) -> list[tuple[str, Event]]:
        return await self.read_after(thread_id, after, count)

    async def _read_backlog_retrying(
        self, thread_id: str, after: str | None, subscriber: _Subscriber
    ) -> list[tuple[str, Event]]:
        """A range read that waits out a Redis restart (the tail keeps its place meanwhile);
        empty when the tail is ended while waiting."""
        delay = 0.1
        while True:
            try:
                return await self._read_backlog(thread_id, after, PAGE)
            except Exception as exc:
                if not redis_unreachable(exc):
                    raise
                log.warning("event stream range read failed (%r); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            if subscriber.closed:
                return []

    async def tail(
        self, thread_id: str, after: str | None = None
    ) -> AsyncGenerator[tuple[str, Event], None]:
        """Every event strictly after `after` (from the oldest held when None), then new events as
        they are appended, until the caller stops iterating. Wrap it in `contextlib.aclosing` so
        the subscription ends as soon as the caller leaves."""
        cursor = None if after is None else require_id(after)
        subscriber = _Subscriber(self._buffer_limit, closed=self._closed)
        # Register before reading the backlog: whatever the reader hands out from now on reaches
        # the buffer, and everything it handed out before is already in the stream, so the
        # backlog read below sees it. Ids at or before the cursor are skipped.
        subscribers = self._subscribers.setdefault(thread_id, set())
        subscribers.add(subscriber)
        try:
            if not subscriber.closed:
                await self._start_live(thread_id)
            while not subscriber.closed:
                if subscriber.catch_up:
                    subscriber.catch_up = False
                    while True:
                        page = await self._read_backlog_retrying(
                            thread_id, None if cursor is None else format_id(cursor), subscriber
                        )
                        for text, event in page:
                            cursor = require_id(text)
                            yield text, event
                        if len(page) < PAGE or subscriber.closed:
                            break
                    continue
                if not subscriber.items:
                    subscriber.wake.clear()
                    await subscriber.wake.wait()
                    continue
                key, text, event = subscriber.items.popleft()
                if cursor is None or key > cursor:
                    cursor = key
                    yield text, event
        finally:
            current = self._subscribers.get(thread_id)
            if current is not None:
                current.discard(subscriber)
                if not current:
                    del self._subscribers[thread_id]
                    self._stop_live(thread_id)


def end_tails_on_shutdown(streams: EventStreams) -> bool:
    """Under `runtime-api serve`, end every tail as soon as uvicorn is asked to stop.

    uvicorn's graceful shutdown waits for open responses to finish (up to its timeout) before it
    shuts the application down, and an SSE response never finishes by itself: without this, a
    restart would hold every SSE client until the timeout and then cut them off mid-stream.
    uvicorn installs its signal handlers before it builds the app, so they are chained here (only
    uvicorn's: in any other process nothing is installed). Returns whether it installed them.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    installed = False
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        owner = getattr(previous, "__self__", None)
        if not callable(previous) or not type(owner).__module__.startswith("uvicorn."):
            continue

        def handler(sig: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(streams.end_tails)
            previous(sig, frame)

        signal.signal(signum, handler)
        installed = True
    return installed
