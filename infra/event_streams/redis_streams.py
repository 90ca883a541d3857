"""Event streams in Redis Streams, shared by every server process.

Faults (docs/operations.md): when Redis restarts, a thread's live reader reconnects with backoff
and goes on from its cursor (and the tails' range reads are retried: see `base`), so tails
survive the restart (with a Redis that persists its writes, nothing is lost; without, the events
written before the restart are gone and a resuming client gets the thread's snapshots). An
append waits for Redis for up to `AGENT_STREAM_APPEND_RETRY_S` and is applied once even when a
reply was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from infra.event_streams.base import BACKOFF_MAX_S, BUFFER_LIMIT, PAGE, Event, EventStreams
from infra.event_streams.ids import U64_MAX, format_id, require_id
from infra.redis_client import redis_unreachable
from observability.metrics import count_redis_reconnect

# The package's one logger, named as it was when the package was a single module.
log = logging.getLogger(__package__)

_FIELD = b"e"  # each stream entry holds the event as JSON in this field
_TOKEN = b"k"  # and a random token, to find an append whose reply was lost
_TOKEN_SCAN = 64  # newest entries searched for that token before appending again


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
        buffer_limit: int = BUFFER_LIMIT,
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
        self, thread_id: str, after: str | None, count: int = PAGE
    ) -> list[tuple[str, Event]]:
        if after is not None and require_id(after) == (U64_MAX, U64_MAX):
            # Nothing can follow the largest id, and Redis refuses an exclusive range from it
            # ("invalid start ID"), which ended such a stream with a 500 after its headers.
            return []
        start = "-" if after is None else "(" + format_id(require_id(after))
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
                delay = min(delay * 2, BACKOFF_MAX_S)
        reader.ready.set()
        delay = 0.1
        while True:
            try:
                reply = await self._blocking.xread({key: cursor}, count=PAGE, block=self._block_ms)
            except Exception as exc:  # Redis restarted: go on from the cursor after a pause
                log.warning("event stream reader lost Redis (%r); retrying", exc)
                count_redis_reconnect("streams")
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
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
