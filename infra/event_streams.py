"""Per-thread append-only event logs with stream ids: Redis Streams, or in-process in embedded mode.

The agent runtime appends every AG-UI event of a thread here; SSE clients read it with `tail()`,
resuming strictly after a `Last-Event-ID`. Ids look like Redis stream ids (`<ms>-<seq>`, strictly
increasing per thread) in both implementations, so a cursor means the same thing everywhere.

Live delivery fans out inside the process: however many clients tail a thread, the process runs
one reader for it (for Redis, one blocking `XREAD` on a dedicated connection) that copies each new
event into the subscribers' local buffers. A subscriber first reads its backlog with a range read
and then takes events from its buffer, skipping ids it has already yielded; a subscriber too slow
for its buffer falls back to a range read from its cursor, so nothing is ever lost or repeated.

Faults (docs/operations.md): when Redis restarts, the reader reconnects with backoff and goes on
from its cursor, and a subscriber's range reads are retried, so tails survive the restart (with a
Redis that persists its writes, nothing is lost; without, the events written before the restart
are gone and a resuming client gets the thread's snapshots). An append waits for Redis for up to
`AGENT_STREAM_APPEND_RETRY_S` and is applied once even when a reply was lost. When the server is
asked to stop (SIGTERM), every tail ends at once, so SSE responses end cleanly and clients resume
with `Last-Event-ID` on the next server instead of holding up the shutdown.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import re
import secrets
import signal
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from typing_extensions import override

from config import Settings
from infra.redis_client import redis_unreachable
from observability.metrics import FANOUT_LAG, count_fanned_out, count_redis_reconnect

log = logging.getLogger(__name__)

StreamId = tuple[int, int]
Event = dict[str, Any]

_ID_RE = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")  # ASCII digits only: `\d` accepts "١"
_U64_MAX = 2**64 - 1  # Redis rejects larger parts; so do we, before they reach it
_FIELD = b"e"  # each stream entry holds the event as JSON in this field
_TOKEN = b"k"  # and a random token, to find an append whose reply was lost
_TOKEN_SCAN = 64  # newest entries searched for that token before appending again
_BACKOFF_MAX_S = 2.0
_PAGE = 500  # entries per range read while catching up
_BUFFER_LIMIT = 1000  # live events held for one subscriber before it must catch up by range


def parse_stream_id(text: str) -> StreamId | None:
    """`"<ms>-<seq>"` as a tuple, or None when malformed (the API answers 422 then)."""
    match = _ID_RE.fullmatch(text)
    if match is None:
        return None
    ms, seq = int(match[1]), int(match[2])
    if ms > _U64_MAX or seq > _U64_MAX:
        return None
    return ms, seq


def _require_id(text: str) -> StreamId:
    parsed = parse_stream_id(text)
    if parsed is None:
        raise ValueError(f"malformed stream id: {text!r}")
    return parsed


def _format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def compare_ids(a: str, b: str) -> int:
    """-1, 0 or 1 as stream id `a` is before, equal to or after `b` (ValueError if malformed)."""
    pa, pb = _require_id(a), _require_id(b)
    return (pa > pb) - (pa < pb)


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

    def __init__(self, *, buffer_limit: int = _BUFFER_LIMIT) -> None:
        self._buffer_limit = buffer_limit
        self._subscribers: dict[str, set[_Subscriber]] = {}
        self._closed = False

    @abstractmethod
    async def append(self, thread_id: str, event: Event) -> str:
        """Add an event at the end of the thread's stream; returns its id."""

    @abstractmethod
    async def read_after(
        self, thread_id: str, after: str | None, count: int = _PAGE
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
            key = _require_id(text)
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
                return await self._read_backlog(thread_id, after, _PAGE)
            except Exception as exc:
                if not redis_unreachable(exc):
                    raise
                log.warning("event stream range read failed (%r); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)
            if subscriber.closed:
                return []

    async def tail(
        self, thread_id: str, after: str | None = None
    ) -> AsyncGenerator[tuple[str, Event], None]:
        """Every event strictly after `after` (from the oldest held when None), then new events as
        they are appended, until the caller stops iterating. Wrap it in `contextlib.aclosing` so
        the subscription ends as soon as the caller leaves."""
        cursor = None if after is None else _require_id(after)
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
                            thread_id, None if cursor is None else _format_id(cursor), subscriber
                        )
                        for text, event in page:
                            cursor = _require_id(text)
                            yield text, event
                        if len(page) < _PAGE or subscriber.closed:
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


@dataclass
class _MemoryStream:
    keys: list[StreamId] = field(default_factory=list)  # parsed ids, for bisection
    texts: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)  # the events as JSON


class MemoryEventStreams(EventStreams):
    """In-process streams for embedded mode: appends reach subscribers synchronously."""

    def __init__(
        self,
        *,
        max_len: int,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
        buffer_limit: int = _BUFFER_LIMIT,
    ) -> None:
        super().__init__(buffer_limit=buffer_limit)
        self._max_len = max_len
        self._max_age_ms = int(max_age_s * 1000)
        self._clock = clock
        self._streams: dict[str, _MemoryStream] = {}

    async def append(self, thread_id: str, event: Event) -> str:
        # Serialised like the Redis entry, so both reject and round-trip the same values.
        data = orjson.dumps(event)
        stream = self._streams.setdefault(thread_id, _MemoryStream())
        now_ms = int(self._clock() * 1000)
        key: StreamId = (now_ms, 0)
        if stream.keys:
            last_ms, last_seq = stream.keys[-1]
            # Like Redis: never go back in time, count up within one millisecond.
            if now_ms <= last_ms:
                key = (last_ms, last_seq + 1)
        text = _format_id(key)
        stream.keys.append(key)
        stream.texts.append(text)
        stream.data.append(data)
        self._trim(stream, now_ms)
        self._fan_out(thread_id, text, orjson.loads(data))
        return text

    def _trim(self, stream: _MemoryStream, now_ms: int) -> None:
        # Exact, unlike Redis's `~`; the newest entry always stays.
        drop = max(0, len(stream.keys) - self._max_len)
        cutoff = (now_ms - self._max_age_ms, 0)
        drop = max(drop, min(bisect.bisect_left(stream.keys, cutoff), len(stream.keys) - 1))
        if drop:
            del stream.keys[:drop], stream.texts[:drop], stream.data[:drop]

    async def read_after(
        self, thread_id: str, after: str | None, count: int = _PAGE
    ) -> list[tuple[str, Event]]:
        stream = self._streams.get(thread_id)
        if stream is None:
            return []
        start = 0 if after is None else bisect.bisect_right(stream.keys, _require_id(after))
        end = start + count
        return [
            (text, orjson.loads(data))
            for text, data in zip(stream.texts[start:end], stream.data[start:end], strict=True)
        ]

    async def oldest_id(self, thread_id: str) -> str | None:
        stream = self._streams.get(thread_id)
        return stream.texts[0] if stream and stream.texts else None

    async def last_id(self, thread_id: str) -> str | None:
        stream = self._streams.get(thread_id)
        return stream.texts[-1] if stream and stream.texts else None

    async def delete(self, thread_id: str) -> None:
        self._streams.pop(thread_id, None)

    async def close(self) -> None:
        await super().close()
        self._streams.clear()

    # `append` hands events to the subscribers itself: there is no reader to start or stop.
    @override
    async def _start_live(self, thread_id: str) -> None:
        return None

    @override
    def _stop_live(self, thread_id: str) -> None:
        return None


@dataclass(eq=False)
class _Reader:
    """The one live reader of a thread in this process."""

    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class RedisEventStreams(EventStreams):
    """Streams in Redis (`XADD`/`XRANGE`), shared by every server process. Each process runs one
    blocking `XREAD` per tailed thread, on connections of its own client (no socket timeout, named
    `<prefix>agent-stream-reader` so that `CLIENT LIST` shows them)."""

    def __init__(
        self,
        redis: Redis,
        redis_url: str,
        *,
        prefix: str,
        max_len: int,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
        buffer_limit: int = _BUFFER_LIMIT,
        block_ms: int = 15_000,
        backlog_readers: int = 16,
        append_retry_s: float = 15.0,
    ) -> None:
        super().__init__(buffer_limit=buffer_limit)
        self._redis = redis
        self._append_retry_s = append_retry_s
        self._prefix = prefix + "agent:stream:"
        self._max_len = max_len
        self._max_age_s = max_age_s
        self._clock = clock
        self._block_ms = block_ms
        self.reader_name = prefix + "agent-stream-reader"
        # Blocking reads hold their connection for up to `block_ms`: a timeout below that would
        # turn a quiet thread into an error. A pool, so each tailed thread costs one connection.
        # No retries inside redis-py: the reader retries itself, with backoff, from its cursor.
        self._blocking = Redis.from_url(
            redis_url,
            socket_timeout=None,
            socket_connect_timeout=2,
            health_check_interval=30,
            client_name=self.reader_name,
            retry=Retry(NoBackoff(), 0),
        )
        self._readers: dict[str, _Reader] = {}
        # A thousand clients joining at once must not open a thousand pooled connections for
        # their backlog reads.
        self._backlog_gate = asyncio.Semaphore(backlog_readers)

    def _key(self, thread_id: str) -> str:
        return self._prefix + thread_id

    async def append(self, thread_id: str, event: Event) -> str:
        """XADD, waiting up to `append_retry_s` for an unreachable Redis (a restart). Each entry
        carries a random token: before a retry, the newest entries are searched for it, so an
        append whose reply was lost is not written twice."""
        key = self._key(thread_id)
        data = orjson.dumps(event)
        token = secrets.token_bytes(8)
        deadline = time.monotonic() + self._append_retry_s
        delay = 0.05
        retrying = False
        while True:
            try:
                if retrying:
                    found = await self._find_token(key, token)
                    if found is not None:
                        return found
                return await self._xadd(key, data, token)
            except Exception as exc:
                if not redis_unreachable(exc) or time.monotonic() + delay > deadline:
                    raise
                if not retrying:
                    log.warning("cannot append to %s (%r); retrying", key, exc)
                retrying = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _xadd(self, key: str, data: bytes, token: bytes) -> str:
        cutoff_ms = int((self._clock() - self._max_age_s) * 1000)
        # One round trip. XADD takes only one of MAXLEN/MINID, so age is a separate approximate
        # XTRIM on every append: with `~` Redis only drops whole macro nodes and gives up at once
        # when the first node is young, so this is about as cheap as skipping it, and needs no
        # bookkeeping of which thread is due. The expiry removes a thread idle for longer than the
        # age limit, whose entries would all be trimmed anyway.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {_FIELD: data, _TOKEN: token}, maxlen=self._max_len, approximate=True)
            pipe.xtrim(key, minid=max(cutoff_ms, 0), approximate=True)
            pipe.pexpire(key, int(self._max_age_s * 1000) + 1000)
            raw_id, _trimmed, _expiry = await pipe.execute()
        return _text(raw_id)

    async def _find_token(self, key: str, token: bytes) -> str | None:
        entries: Any = await self._redis.xrevrange(key, "+", "-", count=_TOKEN_SCAN)
        for raw_id, fields in entries or ():
            if isinstance(fields, dict) and fields.get(_TOKEN) == token:
                return _text(raw_id)
        return None

    async def read_after(
        self, thread_id: str, after: str | None, count: int = _PAGE
    ) -> list[tuple[str, Event]]:
        if after is not None and _require_id(after) == (_U64_MAX, _U64_MAX):
            # Nothing can follow the largest id, and Redis refuses an exclusive range from it
            # ("invalid start ID"), which ended such a stream with a 500 after its headers.
            return []
        start = "-" if after is None else "(" + _format_id(_require_id(after))
        entries = await self._redis.xrange(self._key(thread_id), start, "+", count=count)
        return [item for item in map(_entry, entries or ()) if item is not None]

    async def _read_backlog(
        self, thread_id: str, after: str | None, count: int
    ) -> list[tuple[str, Event]]:
        async with self._backlog_gate:
            return await self.read_after(thread_id, after, count)

    async def oldest_id(self, thread_id: str) -> str | None:
        return _first_id(await self._redis.xrange(self._key(thread_id), "-", "+", count=1))

    async def last_id(self, thread_id: str) -> str | None:
        return _first_id(await self._redis.xrevrange(self._key(thread_id), "+", "-", count=1))

    async def delete(self, thread_id: str) -> None:
        await self._redis.delete(self._key(thread_id))

    def reader_count(self) -> int:
        """Live reader tasks of this process (one per tailed thread)."""
        return sum(1 for r in self._readers.values() if r.task is not None and not r.task.done())

    async def _start_live(self, thread_id: str) -> None:
        reader = self._readers.get(thread_id)
        if reader is None:
            reader = self._readers[thread_id] = _Reader()
            reader.task = asyncio.create_task(self._read_live(thread_id, reader))
        await reader.ready.wait()

    def _stop_live(self, thread_id: str) -> None:
        reader = self._readers.pop(thread_id, None)
        if reader is not None and reader.task is not None:
            # Cancelling a command in flight makes redis-py drop that connection: the blocking
            # XREAD ends on the server too.
            reader.task.cancel()

    async def _read_live(self, thread_id: str, reader: _Reader) -> None:
        key = self._key(thread_id)
        # Start after the newest entry *before* any subscriber reads its backlog (they wait for
        # `ready`): entries up to here are in their backlog, later ones come through here.
        cursor: str | None = None
        delay = 0.1
        while cursor is None:
            try:
                cursor = await self.last_id(thread_id) or "0-0"
            except Exception as exc:
                log.warning("event stream reader cannot reach Redis (%r); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
        reader.ready.set()
        delay = 0.1
        while True:
            try:
                reply = await self._blocking.xread({key: cursor}, count=_PAGE, block=self._block_ms)
            except Exception as exc:  # Redis restarted: go on from the cursor after a pause
                log.warning("event stream reader lost Redis (%r); retrying", exc)
                count_redis_reconnect("streams")
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            delay = 0.1
            for entries in _xread_entries(reply):
                for raw in entries:
                    item = _entry(raw)
                    cursor = _text(raw[0])
                    if item is not None:
                        self._fan_out(thread_id, *item)

    async def close(self) -> None:
        await super().close()
        readers = [r.task for r in self._readers.values() if r.task is not None]
        for reader in self._readers.values():
            reader.ready.set()  # releases tails still waiting for it: they see `closed` and end
        self._readers.clear()
        for task in readers:
            task.cancel()
        for task in readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._blocking.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _first_id(entries: Any) -> str | None:
    return _text(entries[0][0]) if entries else None


def _entry(raw: Any) -> tuple[str, Event] | None:
    raw_id, fields = raw
    data = fields.get(_FIELD) if isinstance(fields, dict) else None
    if data is None:  # not written by us; skip rather than break every reader
        return None
    try:
        return _text(raw_id), orjson.loads(data)
    except orjson.JSONDecodeError:
        log.warning("skipping an undecodable stream entry %r", raw_id)
        return None


def _xread_entries(reply: Any) -> list[Any]:
    # RESP2 answers [[key, entries]], RESP3 {key: [entries]}.
    if not reply:
        return []
    if isinstance(reply, dict):
        return [
            value[0] if value and isinstance(value[0], list) else value for value in reply.values()
        ]
    return [entries for _key, entries in reply]


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


def build_event_streams(settings: Settings, redis: Redis | None) -> EventStreams:
    """Redis Streams when a Redis is configured, in-process streams otherwise."""
    streams: EventStreams
    if redis is None or settings.redis_url is None:
        streams = MemoryEventStreams(
            max_len=settings.agent_stream_max_len, max_age_s=settings.agent_stream_max_age_s
        )
    else:
        streams = RedisEventStreams(
            redis,
            settings.redis_url,
            prefix=settings.redis_prefix,
            max_len=settings.agent_stream_max_len,
            max_age_s=settings.agent_stream_max_age_s,
            append_retry_s=settings.agent_stream_append_retry_s,
        )
    end_tails_on_shutdown(streams)
    return streams
