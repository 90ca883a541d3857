"""Helpers for tests of a thread's event stream (docs/contract.md §5 `GET /agent/runs/{id}/events`):
a strict SSE framing check over the raw bytes, and an SSE connection that a test reads piece
by piece and can drop whenever it likes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from ag_ui.core import Event
from pydantic import TypeAdapter

from tests.support.agent import TERMINAL, SseEvent

STREAM_ID = re.compile(r"^\d+-\d+$")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
AGUI_EVENT: TypeAdapter[Any] = TypeAdapter(Event)


def streams_of(app: Any) -> Any:
    """The app's agent event streams (infra/event_streams/), to read or append to directly."""
    return app.state.services.streams


def key(stream_id: str) -> tuple[int, int]:
    """A stream id as numbers, for comparing (`"9-0" < "10-0"` as ids, not as text)."""
    assert STREAM_ID.match(stream_id), stream_id
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)


def nulls(value: Any, path: str = "$") -> list[str]:
    """The paths of every null inside `value`."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []


def check_event_json(data: dict[str, Any]) -> None:
    """An AG-UI event as the contract serializes it: one of the protocol's event models, dumped
    with camelCase aliases and without nulls (so field names are camelCase, those of a
    MESSAGES_SNAPSHOT's messages included, and there is no null anywhere)."""
    assert isinstance(data, dict) and isinstance(data.get("type"), str), data
    model = AGUI_EVENT.validate_python(data)
    assert model.model_dump(by_alias=True, exclude_none=True, mode="json") == data, data
    assert not nulls(data), (nulls(data), data)
    names = list(data)
    for message in data.get("messages") or ():
        names += list(message)
        for call in message.get("toolCalls") or ():
            names += list(call)
    bad = [n for n in names if not CAMEL.match(n)]
    assert not bad, (bad, data)


def parse_strict(raw: bytes) -> tuple[list[SseEvent], int]:
    """The events and the number of comment blocks of a raw `text/event-stream` body, checking
    the framing on the way: LF line ends only, every block either comment lines (`: ...`) or
    exactly `id:`, `event:` and `data:` lines, ids well formed and strictly increasing, `event`
    equal to the data's `type`. A trailing incomplete block (the reader left mid-event) is
    ignored."""
    assert b"\r" not in raw, raw[:400]
    text = raw.decode()
    blocks = text.split("\n\n")[:-1]  # the part after the last blank line is incomplete
    events: list[SseEvent] = []
    comments = 0
    for block in blocks:
        lines = block.split("\n")
        if all(line.startswith(":") for line in lines):
            assert all(line.startswith(": ") for line in lines), block
            comments += 1
            continue
        assert len(lines) == 3, block
        assert lines[0].startswith("id: "), block
        assert lines[1].startswith("event: "), block
        assert lines[2].startswith("data: "), block
        event_id = lines[0].removeprefix("id: ")
        event_type = lines[1].removeprefix("event: ")
        data = json.loads(lines[2].removeprefix("data: "))
        assert STREAM_ID.match(event_id), block
        if events:
            assert key(event_id) > key(events[-1].id), (events[-1].id, event_id)
        assert event_type == data.get("type"), block
        check_event_json(data)
        events.append(SseEvent(event_id, event_type, data))
    return events, comments


def pairs(events: list[SseEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(e.id, e.data) for e in events]


def check_run(events: list[SseEvent], run_id: str | None = None) -> None:
    """One run's events in the contract's order: RUN_STARTED (protocol 1.0), STATE_SNAPSHOT,
    ..., exactly one terminal event, at the end."""
    types = [e.event for e in events]
    assert types[:2] == ["RUN_STARTED", "STATE_SNAPSHOT"], types
    started = events[0].data
    assert started.get("protocolVersion") == "1.0", started
    if run_id is not None:
        assert started.get("runId") == run_id, started
    assert types[-1] in TERMINAL, types
    assert sum(t in TERMINAL for t in types) == 1, types
    assert types.count("RUN_STARTED") == 1, types


def split_runs(events: list[SseEvent]) -> list[list[SseEvent]]:
    """Events cut into runs, each from its RUN_STARTED to the next."""
    runs: list[list[SseEvent]] = []
    for event in events:
        if event.event == "RUN_STARTED" or not runs:
            runs.append([])
        runs[-1].append(event)
    return runs


@dataclass
class SseConnection:
    """An open SSE response: `read` parses blocks as they arrive, `raw` keeps every byte."""

    response: httpx.Response
    raw: bytes = b""
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    _buffer: str = ""
    _queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    _ended: bool = False

    async def pump(self) -> None:
        # A task of its own, so a read that times out never cancels the response's iterator.
        try:
            async for chunk in self.response.aiter_bytes():
                await self._queue.put(chunk)
        finally:
            self._queue.put_nowait(None)

    @property
    def status(self) -> int:
        return self.response.status_code

    def _take(self, chunk: bytes) -> None:
        self.raw += chunk
        self._buffer += chunk.decode()
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            if all(line.startswith(":") for line in block.split("\n")):
                self.comments += 1
                continue
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            data = json.loads(fields["data"])
            self.events.append(SseEvent(fields.get("id", ""), fields.get("event", ""), data))

    async def read(
        self, until: Callable[[SseConnection], bool], timeout_s: float = 10.0
    ) -> SseConnection:
        """Read until `until(self)` holds; TimeoutError after `timeout_s`, EOFError when the
        server ends the response first."""
        async with asyncio.timeout(timeout_s):
            while not until(self):
                if self._ended:
                    raise EOFError("the server ended the stream")
                chunk = await self._queue.get()
                if chunk is None:
                    self._ended = True
                    continue
                self._take(chunk)
        return self

    async def read_for(self, seconds: float) -> SseConnection:
        """Read whatever arrives within `seconds` (or until the server ends the stream)."""
        with contextlib.suppress(TimeoutError, EOFError):
            await self.read(lambda _: False, seconds)
        return self

    @property
    def ended(self) -> bool:
        """The server ended the response (as far as read so far)."""
        return self._ended

    async def until_events(self, count: int, timeout_s: float = 10.0) -> list[SseEvent]:
        await self.read(lambda c: len(c.events) >= count, timeout_s)
        return self.events

    async def until_runs(self, count: int, timeout_s: float = 10.0) -> list[SseEvent]:
        """Read until `count` terminal events arrived."""
        await self.read(lambda c: sum(e.event in TERMINAL for e in c.events) >= count, timeout_s)
        return self.events


@asynccontextmanager
async def sse_connection(
    url: str, token: str, last_event_id: str | None = None, query_id: str | None = None
) -> AsyncIterator[SseConnection]:
    """GET `url` as `token`'s user; `last_event_id` goes in the header, `query_id` in the
    `lastEventId` query parameter. Leaving the block drops the connection."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    params = {"lastEventId": query_id} if query_id is not None else None
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client,
        client.stream("GET", url, headers=headers, params=params) as response,
    ):
        conn = SseConnection(response)
        task = asyncio.create_task(conn.pump()) if response.status_code == 200 else None
        try:
            yield conn
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def read_run(url: str, token: str, **cursor: str) -> list[SseEvent]:
    """A finished thread's events from a cursor (or the start) up to the next terminal event,
    checking the framing of everything read."""
    async with sse_connection(url, token, **cursor) as conn:
        assert conn.status == 200
        await conn.until_runs(1)
        events, _ = parse_strict(conn.raw)
        assert pairs(events) == pairs(conn.events)
        return events


async def wait_for(condition: Callable[[], Any], seconds: float = 5.0, step: float = 0.02) -> None:
    """Poll `condition` (sync or async) until it is truthy; TimeoutError after `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(step)
