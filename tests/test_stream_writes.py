"""How long-lived streams write (issue 12): SSE events queued for a client go out together and keep
their exact framing, a client that stops reading is disconnected past
`AGENT_SSE_MAX_QUEUED_BYTES` and resumes with Last-Event-ID losing nothing, the request id is
on SSE responses although their bodies skip the middlewares, and a sign-out (or a session found
revoked when revocations may have been missed) still ends a stream at once."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from httpx_sse import aconnect_sse

from models import AuthSession
from tests.support.agent import ScriptedModel, events_url, http_base, new_thread, run_input
from tests.support.agent import start_run as start_agent_run
from tests.support.agent_stream import parse_strict, read_run, sse_connection, streams_of, wait_for
from tests.support.client import Account, Api
from tests.support.live_server import live_server

BOUND = 4096
BIG = 64 * 1024  # bytes of text per event of the slow client's burst


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"agent_sse_keepalive_s": 0.2, "agent_sse_max_queued_bytes": BOUND}


@pytest.fixture
def chat_model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as url:
        yield http_base(url)


async def idle_thread(api: Api, who: Account, base: str) -> tuple[str, str]:
    """A thread with one finished run: its id and the id of its last event."""
    thread = new_thread()
    await start_agent_run(api, who, run_input(thread, text="hi"))
    events = await read_run(events_url(base, thread), who.access_token)
    return thread, events[-1].id


async def append_custom(app: Any, thread: str, count: int, size: int) -> list[str]:
    """`count` CUSTOM events of about `size` bytes each, appended at once; their ids."""
    streams = streams_of(app)
    return [
        await streams.append(thread, {"type": "CUSTOM", "name": f"n{i}", "value": "x" * size})
        for i in range(count)
    ]


async def test_events_queued_together_keep_their_exact_framing(
    api: Api, app: Any, alice: Account, base: str
) -> None:
    thread, last = await idle_thread(api, alice, base)
    url = events_url(base, thread)
    async with sse_connection(url, alice.access_token, last_event_id=last) as raw:
        await wait_for(lambda: streams_of(app).subscriber_count(thread) == 1)
        async with (
            httpx.AsyncClient(timeout=10) as client,
            aconnect_sse(
                client,
                "GET",
                url,
                headers={"Authorization": f"Bearer {alice.access_token}", "Last-Event-ID": last},
            ) as source,
        ):
            await wait_for(lambda: streams_of(app).subscriber_count(thread) == 2)
            # Appended without a pause: each subscriber's events pile up and go out together.
            ids = await append_custom(app, thread, 300, 40)
            seen: list[tuple[str, str, str]] = []
            async for sse in source.aiter_sse():
                if sse.event:  # keep-alive comments carry no event
                    seen.append((sse.id, sse.event, sse.json()["name"]))
                if len(seen) == len(ids):
                    break
        await raw.until_events(len(ids))
    assert seen == [(i, "CUSTOM", f"n{n}") for n, i in enumerate(ids)]
    events, _ = parse_strict(raw.raw)  # LF only; id, event, data; ids strictly increasing
    assert [(e.id, e.data["name"]) for e in events] == [(i, f"n{n}") for n, i in enumerate(ids)]


def _chunked_body(raw: bytes) -> bytes:
    """The body of a raw HTTP/1.1 chunked response, as far as it arrived."""
    _, _, rest = raw.partition(b"\r\n\r\n")
    body = b""
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep or not size_line:
            break
        size = int(size_line, 16)
        if size == 0 or len(rest) < size:
            body += rest[:size]
            break
        body, rest = body + rest[:size], rest[size + 2 :]
    return body


async def test_a_client_that_stops_reading_is_dropped_and_resumes_losing_nothing(
    api: Api, app: Any, alice: Account, base: str
) -> None:
    thread, last = await idle_thread(api, alice, base)
    url = urlsplit(events_url(base, thread))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads little
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {alice.access_token}\r\nLast-Event-ID: {last}\r\n\r\n".encode()
    )
    await writer.drain()
    try:
        await wait_for(lambda: streams_of(app).subscriber_count(thread) == 1)
        ids = await append_custom(app, thread, 200, BIG)  # far more than any socket buffers
        # The server gives up on the client: its tail ends although the client is connected.
        await wait_for(lambda: streams_of(app).subscriber_count(thread) == 0, 10)
        raw = await asyncio.wait_for(reader.read(), 10)  # what it got, up to the server's close
    finally:
        writer.close()
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    received, _ = parse_strict(_chunked_body(raw))  # whole frames only, exact framing
    got = [e.id for e in received]
    assert got == ids[: len(got)] and len(got) < len(ids)
    # It resumes after the last event it read, and gets the rest: nothing lost or repeated.
    resume_from = got[-1] if got else last
    async with sse_connection(
        events_url(base, thread), alice.access_token, last_event_id=resume_from
    ) as conn:
        rest = await conn.until_events(len(ids) - len(got), 20)
    assert got + [e.id for e in rest] == ids


async def test_sse_responses_carry_the_request_id(
    api: Api, alice: Account, app: Any, base: str
) -> None:
    thread, last = await idle_thread(api, alice, base)
    headers = {
        "Authorization": f"Bearer {alice.access_token}",
        "Last-Event-ID": last,
        "X-Request-ID": "trace-sse.1",
    }
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", events_url(base, thread), headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "trace-sse.1"
        assert response.headers["content-type"].startswith("text/event-stream")
        ids = await append_custom(app, thread, 2, 10)
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if b"id: " + ids[-1].encode() in body:
                break
    assert [e.id for e in parse_strict(body)[0]] == ids


async def _revoke_in_database(who: Account) -> None:
    await AuthSession.filter(user_id=uuid.UUID(who.id)).update(revoked_at=datetime.now(UTC))


async def test_a_missed_revocation_is_found_when_sessions_are_rechecked(
    api: Api, alice: Account, app: Any, base: str
) -> None:
    live_sessions = app.state.services.live_sessions
    thread, last = await idle_thread(api, alice, base)
    url = events_url(base, thread)
    async with sse_connection(url, alice.access_token, last_event_id=last) as conn:
        await wait_for(lambda: streams_of(app).subscriber_count(thread) == 1)
        # Revocations may have been missed, but this session is live: the stream goes on.
        live_sessions.recheck_watched()
        await asyncio.sleep(0.2)
        ids = await append_custom(app, thread, 1, 10)
        assert [e.id for e in await conn.until_events(1)] == ids
        # Revoked without a notification (it was lost): the next recheck ends the stream.
        await _revoke_in_database(alice)
        live_sessions.recheck_watched()
        await conn.read_for(3)
        assert conn.ended, "the stream outlived its revoked session"
    assert streams_of(app).subscriber_count(thread) == 0


async def test_signing_out_ends_an_idle_stream_at_once(
    api: Api, alice: Account, app: Any, base: str
) -> None:
    thread, last = await idle_thread(api, alice, base)
    url = events_url(base, thread)
    async with sse_connection(url, alice.access_token, last_event_id=last) as conn:
        await wait_for(lambda: streams_of(app).subscriber_count(thread) == 1)
        await conn.read_for(0.3)  # keep-alives only: the reader waits inside the stream
        r = await api.rest("DELETE", "/auth/sessions", json={"refresh_token": alice.refresh_token})
        assert r.status_code == 204
        await conn.read_for(2)
        assert conn.ended
        assert conn.events == []
    assert streams_of(app).subscriber_count(thread) == 0
