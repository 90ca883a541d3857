"""In-process event streams, for embedded mode (no Redis)."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from typing_extensions import override

from infra.event_streams.base import BUFFER_LIMIT, PAGE, Event, EventStreams
from infra.event_streams.ids import StreamId, format_id, require_id


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
        buffer_limit: int = BUFFER_LIMIT,
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
        text = format_id(key)
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
        self, thread_id: str, after: str | None, count: int = PAGE
    ) -> list[tuple[str, Event]]:
        stream = self._streams.get(thread_id)
        if stream is None:
            return []
        start = 0 if after is None else bisect.bisect_right(stream.keys, require_id(after))
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
