"""Attacks on the agent event streams (issue 11): cursors from the far future, at the largest
id Redis takes, and from long ago; and a reader that connects and never reads while the thread
emits thousands of events — what the server holds for it must stay bounded, and once it reads
again it must get every event in order. (Malformed cursors: `tests/test_agent_stream.py`.)"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest

from models import AgentRun
from models.agent import UNFINISHED
from tests.support.agent import (
    ScriptedModel,
    events_url,
    http_base,
    new_thread,
    run_input,
    start_run,
)
from tests.support.agent_stream import key, sse_connection, wait_for
from tests.support.client import Account, Api
from tests.support.live_server import live_server

U64 = 2**64 - 1


@pytest.fixture
def chat_model() -> ScriptedModel:
    return ScriptedModel()


async def finished_thread(api: Api, who: Account) -> str:
    thread = new_thread()
    await start_run(api, who, run_input(thread, text="hi"))

    async def idle() -> bool:
        return not await AgentRun.filter(thread_id=thread, status__in=UNFINISHED).exists()

    await wait_for(idle)
    return thread


@pytest.mark.parametrize("cursor", ["99999999999999-0", f"{U64}-{U64}", f"{U64}-0"])
async def test_a_far_future_cursor_streams_nothing_and_stays_healthy(
    api: Api, app: Any, alice: Account, cursor: str
) -> None:
    thread = await finished_thread(api, alice)
    async with live_server(app) as url:
        base = http_base(url)
        async with sse_connection(events_url(base, thread), alice.access_token, cursor) as sse:
            assert sse.status == 200
            await sse.read_for(0.5)
            assert sse.events == [] and not sse.ended
        # The same over the query parameter, and the server still answers everyone else.
        async with sse_connection(
            events_url(base, thread), alice.access_token, query_id=cursor
        ) as sse:
            assert sse.status == 200
            await sse.read_for(0.3)
            assert sse.events == []
        async with sse_connection(events_url(base, thread), alice.access_token) as sse:
            assert (await sse.until_runs(1))[0].event == "RUN_STARTED"


@pytest.mark.parametrize("cursor", ["0-0", "0-1", "1-0"])
async def test_a_very_old_cursor_replays_the_thread_from_its_start(
    api: Api, app: Any, alice: Account, cursor: str
) -> None:
    thread = await finished_thread(api, alice)
    async with live_server(app) as url:
        base = http_base(url)
        async with sse_connection(events_url(base, thread), alice.access_token) as sse:
            whole = [(e.id, e.event) for e in await sse.until_runs(1)]
        async with sse_connection(events_url(base, thread), alice.access_token, cursor) as sse:
            replay = [(e.id, e.event) for e in await sse.until_runs(1)]
    assert replay == whole


EVENTS = 1_500
PADDING = "x" * 4_000  # ~6 MB in all: far more than the socket buffers hold


@contextlib.asynccontextmanager
async def never_reading(url: str, token: str) -> Any:
    """A client that sends the request with a tiny receive buffer, then never reads."""
    host, _, rest = url.removeprefix("http://").partition(":")
    port, _, path = rest.partition("/")
    path = "/" + path
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    await asyncio.get_running_loop().sock_sendall(sock, request.encode())
    try:
        yield sock
    finally:
        sock.close()


async def test_a_reader_that_never_reads_holds_a_bounded_buffer(
    api: Api, app: Any, alice: Account
) -> None:
    thread = await finished_thread(api, alice)
    streams = app.state.services.streams
    async with live_server(app) as url:
        base = http_base(url)
        async with never_reading(events_url(base, thread), alice.access_token):
            await wait_for(lambda: streams.subscriber_count(thread) == 1)
            for i in range(EVENTS):
                await streams.append(thread, {"type": "CUSTOM", "name": f"e{i}", "value": PADDING})
                if i % 200 == 0:
                    await asyncio.sleep(0)  # let the stream's reader and writer run
            await asyncio.sleep(0.3)
            (subscriber,) = streams._subscribers[thread]
            # The subscriber's live buffer is capped (it falls back to range reads beyond it),
            # and the SSE queue in front of the socket holds 64 encoded events at most.
            assert len(subscriber.items) <= streams._buffer_limit
        # The stalled client is gone: its subscription with it.
        await wait_for(lambda: streams.subscriber_count(thread) == 0)
        # A client that reads (slowly at first) still gets every event, once and in order.
        async with sse_connection(events_url(base, thread), alice.access_token) as sse:
            await sse.read(
                lambda c: sum(e.event == "CUSTOM" for e in c.events) >= EVENTS, timeout_s=20
            )
            names = [e.data["name"] for e in sse.events if e.event == "CUSTOM"]
            ids = [key(e.id) for e in sse.events]
    assert names == [f"e{i}" for i in range(EVENTS)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
