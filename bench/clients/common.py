"""What the client processes share: a raw HTTP/1.1 SSE reader, percentiles, JSON lines."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import resource
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def read_command() -> str:
    """The next line the orchestrator writes to our stdin."""
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def summary(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": values[-1] if values else math.nan,
    }


def histogram_summary(histogram: dict[str, int]) -> dict[str, float]:
    """`summary` of delays known only as counts per whole millisecond (upper bounds)."""
    buckets = sorted((int(k), v) for k, v in histogram.items())
    total = sum(v for _, v in buckets)
    if not total:
        return {"count": 0, "p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan}

    def rank(p: float) -> float:
        wanted, seen = max(1, math.ceil(p / 100 * total)), 0
        for ms, count in buckets:
            seen += count
            if seen >= wanted:
                return float(ms + 1)
        return float(buckets[-1][0] + 1)

    return {
        "count": total,
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": float(buckets[-1][0] + 1),
    }


def stream_ms(event_id: str) -> int:
    """The millisecond part of a Redis stream id: Redis' clock at XADD."""
    return int(event_id.split("-", 1)[0])


def id_key(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-", 1)
    return int(ms), int(seq)


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


@dataclass
class SseEvent:
    id: str | None
    type: str | None
    data: str
    received: float  # time.time() when the chunk holding its end arrived


@dataclass
class SseStream:
    """One `GET` of an SSE endpoint on a raw asyncio connection (chunked or not)."""

    host: str
    port: int
    path: str
    headers: dict[str, str]
    status: int = 0
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    chunked: bool = False
    _buffer: bytes = field(default=b"", repr=False)

    async def open(self) -> int:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines += ["Accept: text/event-stream", "", ""]
        self.writer.write("\r\n".join(lines).encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                self.chunked = True
        return self.status

    async def _raw(self) -> bytes:
        assert self.reader is not None
        if not self.chunked:
            return await self.reader.read(65536)
        size_line = await self.reader.readline()
        if not size_line:
            return b""
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            return b""
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    async def events(self) -> AsyncIterator[SseEvent]:
        while True:
            chunk = await self._raw()
            if not chunk:
                return
            received = time.time()
            self._buffer += chunk
            while True:
                end = self._buffer.find(b"\n\n")
                if end < 0:
                    break
                block, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
                event = _parse_block(block, received)
                if event is not None:
                    yield event

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _parse_block(block: bytes, received: float) -> SseEvent | None:
    event_id: str | None = None
    kind: str | None = None
    data: list[str] = []
    for raw in block.decode().split("\n"):
        if not raw or raw.startswith(":"):
            continue
        name, _, value = raw.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            kind = value
        elif name == "data":
            data.append(value)
    if event_id is None and kind is None and not data:
        return None  # a keep-alive comment
    return SseEvent(event_id, kind, "\n".join(data), received)


@dataclass
class Subscriber:
    """What one fan-out subscriber received: ids in arrival order and XADD→receipt delays."""

    runs: int  # terminal events to wait for
    ids: list[str] = field(default_factory=list)
    delays_ms: list[float] = field(default_factory=list)
    terminals: int = 0
    out_of_order: int = 0
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # done, or failed
    _last: tuple[int, int] = (0, 0)

    def record(self, event_id: str, kind: str | None, received: float) -> None:
        key = id_key(event_id)
        if key <= self._last:
            self.out_of_order += 1
        self._last = key
        self.ids.append(event_id)
        self.delays_ms.append(received * 1000 - key[0])
        if kind in ("RUN_FINISHED", "RUN_ERROR"):
            self.terminals += 1
            if self.terminals >= self.runs:
                self.done.set()
                self.ended.set()

    def fail(self, error: str) -> None:
        self.error = self.error or error
        self.ended.set()


def fanout_report(subscribers: list[Subscriber], elapsed_s: float) -> dict[str, Any]:
    digests: dict[str, int] = {}
    counts: dict[int, int] = {}
    delays: list[float] = []
    for sub in subscribers:
        digest = ids_digest(sub.ids)
        digests[digest] = digests.get(digest, 0) + 1
        counts[len(sub.ids)] = counts.get(len(sub.ids), 0) + 1
        delays.extend(sub.delays_ms)
    errors = [sub.error for sub in subscribers if sub.error]
    histogram: dict[str, int] = {}  # whole milliseconds: reports of several clients add up
    for delay in delays:
        key = str(math.floor(delay))
        histogram[key] = histogram.get(key, 0) + 1
    return {
        "phase": "done",
        "subscribers": len(subscribers),
        "complete": sum(1 for sub in subscribers if sub.done.is_set()),
        "out_of_order": sum(sub.out_of_order for sub in subscribers),
        "digests": digests,
        "event_counts": {str(k): v for k, v in counts.items()},
        "delay_ms": summary(delays),
        "delay_histogram_ms": histogram,
        "errors": errors[:5],
        "error_count": len(errors),
        "elapsed_s": round(elapsed_s, 3),
    }


async def wait_all(subscribers: list[Subscriber], limit_s: float) -> float:
    started = time.monotonic()
    waiters = [asyncio.ensure_future(sub.ended.wait()) for sub in subscribers]
    _, pending = await asyncio.wait(waiters, timeout=limit_s)
    for waiter in pending:
        waiter.cancel()
    return time.monotonic() - started
