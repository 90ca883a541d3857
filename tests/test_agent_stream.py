"""A thread's event stream (docs/contract.md §5 `GET /agent/runs/{thread_id}/events`, §4
`agentEvents`): SSE framing, a run's order, resuming with Last-Event-ID / `lastEventId` / `after`,
snapshots when the stream was trimmed, keep-alives, several runs and subscribers on one connection
or thread, noticing a client that left, and the GraphQL subscription over both websocket protocols.

The app runs on a loopback port (SSE needs a real streaming connection) with a scripted model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from models import AgentRun, AgentThread
from models.agent import FAILED, FINISHED, INTERRUPTED
from tests.support.agent import (
    TERMINAL,
    ScriptedModel,
    events_url,
    http_base,
    new_thread,
    run_input,
    start_run,
    text_turn,
    tool_turn,
)
from tests.support.agent_stream import (
    check_event_json,
    check_run,
    key,
    pairs,
    parse_strict,
    read_run,
    split_runs,
    sse_connection,
    streams_of,
    wait_for,
)
from tests.support.client import API, Account, Api
from tests.support.live_server import (
    PROTOCOLS,
    GqlSocket,
    auth_payload,
    expect_error,
    gql_socket,
    live_server,
)

AGENT_EVENTS = (
    "subscription($t: ID!, $a: String) { agentEvents(threadId: $t, after: $a) { id type event } }"
)
MALFORMED = [
    "abc",
    "1-",
    "-1",
    "1-2-3",
    "١-0",  # an Arabic-Indic digit: `\d` would take it
    "0-١",
    f"{2**64}-0",
    f"0-{2**64}",
    "1" * 25 + "-0",
    "1.5-0",
    "+1-0",
]
TRIMMED = {"agent_stream_max_len": 5}


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"agent_sse_keepalive_s": 0.2, **getattr(request, "param", {})}


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def chat_model(model: ScriptedModel) -> ScriptedModel:
    return model


@pytest.fixture
async def ws_url(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as url:
        yield url


@pytest.fixture
def base(ws_url: str) -> str:
    return http_base(ws_url)


@pytest.fixture
async def ann(api: Api) -> Account:
    return await api.quick_user("ann")


async def run_over(run_id: str) -> bool:
    return await AgentRun.filter(run_id=run_id, status__in=(FINISHED, INTERRUPTED, FAILED)).exists()


async def finished_run(api: Api, who: Account, thread: str, text: str, **extra: Any) -> str:
    """Start a run and wait until it is over; returns its run id."""
    ticket = await start_run(api, who, run_input(thread, text=text, **extra))
    await wait_for(lambda: run_over(ticket["runId"]))
    return str(ticket["runId"])


async def first_run(api: Api, who: Account, base: str, text: str = "hi") -> tuple[str, list[Any]]:
    """A new thread with one finished run: its id and the run's events as SSE."""
    thread = new_thread()
    await finished_run(api, who, thread, text)
    return thread, await read_run(events_url(base, thread), who.access_token)


# --- format and order -------------------------------------------------------------------------


async def test_a_run_streams_as_well_formed_sse_in_the_contract_order(
    api: Api, ann: Account, base: str, model: ScriptedModel
) -> None:
    model.add_turn(*tool_turn("list_friends", {}, call_id="call_friends"))
    model.add_turn(*text_turn("Hello", ",\nworld", ' "quoted"'))
    thread = new_thread()
    ticket = await start_run(api, ann, run_input(thread, text="who are my friends?"))
    async with sse_connection(events_url(base, thread), ann.access_token) as conn:
        assert conn.status == 200
        assert conn.response.headers["content-type"].split(";")[0] == "text/event-stream"
        await conn.until_runs(1)
    events, _ = parse_strict(conn.raw)  # LF only, id/event/data, ids increasing, no nulls
    assert pairs(events) == pairs(conn.events)
    check_run(events, ticket["runId"])
    assert events[0].data["threadId"] == thread
    types = [e.event for e in events]
    assert types[-1] == "RUN_FINISHED"
    tool = [t for t in types if t.startswith("TOOL_CALL_")]
    assert tool == [
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
    ]
    start = next(e.data for e in events if e.event == "TOOL_CALL_START")
    assert start["toolCallId"] == "call_friends" and start["toolCallName"] == "list_friends"
    text = "".join(e.data["delta"] for e in events if e.event == "TEXT_MESSAGE_CONTENT")
    assert text == 'Hello,\nworld "quoted"'
    assert types.index("TEXT_MESSAGE_START") < types.index("TEXT_MESSAGE_END")


async def test_without_a_cursor_the_stream_starts_at_the_oldest_event(
    api: Api, app: Any, ann: Account, base: str, model: ScriptedModel
) -> None:
    model.delay_s = 0.05
    model.add_turn(*text_turn(*"abcdefgh"))
    thread = new_thread()
    ticket = await start_run(api, ann, run_input(thread, text="go"))
    # Connect only once the run has streamed a few events: they must still be sent.
    await wait_for(lambda: _held(app, thread, 4))
    async with sse_connection(events_url(base, thread), ann.access_token) as conn:
        live = await conn.until_runs(1)
    check_run(live, ticket["runId"])
    assert "".join(e.data["delta"] for e in live if e.event == "TEXT_MESSAGE_CONTENT") == "abcdefgh"
    # Connecting after the run: the same events again, from the first.
    assert pairs(await read_run(events_url(base, thread), ann.access_token)) == pairs(live)


async def _held(app: Any, thread: str, count: int) -> bool:
    return len(await streams_of(app).read_after(thread, None, 1000)) >= count


# --- resuming ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "query"])
async def test_resuming_a_finished_run_starts_strictly_after_the_id(
    api: Api, ann: Account, base: str, where: str
) -> None:
    thread, full = await first_run(api, ann, base)
    url = events_url(base, thread)
    name = "last_event_id" if where == "header" else "query_id"
    for cut in (0, len(full) // 2, len(full) - 2):
        resumed = await read_run(url, ann.access_token, **{name: full[cut].id})
        assert pairs(resumed) == pairs(full[cut + 1 :]), cut
    # After the last event: nothing, and the stream stays open.
    async with sse_connection(url, ann.access_token, **{name: full[-1].id}) as conn:
        await conn.read_for(0.5)
    assert conn.events == [] and not conn.ended
    parse_strict(conn.raw)


@pytest.mark.parametrize("where", ["header", "query"])
async def test_resuming_a_running_run_loses_and_repeats_nothing(
    api: Api, ann: Account, base: str, model: ScriptedModel, where: str
) -> None:
    model.delay_s = 0.03
    model.add_turn(*text_turn(*[f"w{i} " for i in range(30)]))
    thread = new_thread()
    ticket = await start_run(api, ann, run_input(thread, text="talk"))
    url = events_url(base, thread)
    async with sse_connection(url, ann.access_token) as whole:
        async with sse_connection(url, ann.access_token) as part:
            head = await part.until_events(6)
        head = list(head)
        assert not await run_over(ticket["runId"]), "the run must still be running"
        cursor = {"last_event_id" if where == "header" else "query_id": head[-1].id}
        async with sse_connection(url, ann.access_token, **cursor) as rest:
            tail = await rest.until_runs(1)
        everything = await whole.until_runs(1)
    for conn in (part, rest, whole):
        parse_strict(conn.raw)
    assert pairs(head + tail) == pairs(everything)
    check_run(everything, ticket["runId"])
    assert len(everything) > 30


async def test_a_malformed_cursor_is_answered_422(api: Api, ann: Account, base: str) -> None:
    thread, _ = await first_run(api, ann, base)
    path = f"/agent/runs/{thread}/events"
    for value in MALFORMED:
        tries: list[tuple[dict[str, Any], str]] = [
            ({"headers": {"Last-Event-ID": value.encode()}}, "header"),
            ({"params": {"lastEventId": value}}, "query"),
        ]
        for kwargs, where in tries:
            r = await api.rest("GET", path, ann.access_token, **kwargs)
            assert r.status_code == 422, (value, where, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), (value, r)
            body = r.json()
            assert body["status"] == 422, body


# --- snapshots when the stream was trimmed -------------------------------------------------------


async def _trimmed_thread(
    api: Api, app: Any, who: Account, base: str, model: ScriptedModel
) -> tuple[str, str]:
    """A thread whose client saw the start of run 1 (returns that client's last id) and whose
    stream has since trimmed everything after it; run 2 changed the state to `busy`."""
    streams = streams_of(app)
    thread = new_thread()
    model.delay_s = 0.3  # run 1 waits before its text: the client connects meanwhile
    model.add_turn(*text_turn("a", "b"))
    one = await start_run(api, who, run_input(thread, text="first", state={"mood": "calm"}))
    async with sse_connection(events_url(base, thread), who.access_token) as conn:
        seen = await conn.until_events(2)
    assert [e.event for e in seen[:2]] == ["RUN_STARTED", "STATE_SNAPSHOT"]
    old = seen[1].id
    await wait_for(lambda: run_over(one["runId"]))
    model.delay_s = 0
    # Many events, so that even Redis's approximate trimming (whole nodes) surely drops run 1.
    model.add_turn(*text_turn(*[f"x{i}" for i in range(150)]))
    await finished_run(api, who, thread, "second", state={"mood": "busy"})
    held = await streams.read_after(thread, None, 10_000)
    assert key(held[0][0]) > key(old)
    assert not any(e.get("runId") == one["runId"] for _, e in held), "run 1 was not trimmed"
    return thread, old


@pytest.mark.parametrize("settings_overrides", [TRIMMED], indirect=True)
async def test_an_id_older_than_the_stream_holds_starts_with_snapshots(
    api: Api, app: Any, ann: Account, base: str, model: ScriptedModel
) -> None:
    thread, old = await _trimmed_thread(api, app, ann, base, model)
    stored = await AgentThread.get(id=thread)
    url = events_url(base, thread)
    streams = streams_of(app)
    async with sse_connection(url, ann.access_token, last_event_id=old) as conn:
        snapshots = list(await conn.until_events(2))
        snapshot_id = snapshots[-1].id
        # A second client that had seen everything up to the snapshot's id, for comparison.
        async with sse_connection(url, ann.access_token, last_event_id=snapshot_id) as other:
            await wait_for(lambda: streams.subscriber_count(thread) == 2, 2)
            three = await start_run(api, ann, run_input(thread, text="third"))
            await asyncio.gather(conn.until_runs(1), other.until_runs(1))
    assert b"\r" not in conn.raw
    assert [e.event for e in snapshots] == ["MESSAGES_SNAPSHOT", "STATE_SNAPSHOT"]
    for event in conn.events:
        check_event_json(event.data)
        assert event.event == event.data["type"]
    messages = snapshots[0].data["messages"]
    assert [(m["role"], m.get("content")) for m in messages] == [
        ("user", "first"),
        ("assistant", "ab"),
        ("user", "second"),
        ("assistant", "".join(f"x{i}" for i in range(150))),
    ]
    assert snapshots[1].data["snapshot"] == stored.state
    assert snapshots[1].data["snapshot"]["mood"] == "busy"
    # The snapshots reflect the thread up to their id (run 2's end); the stream goes on
    # strictly after it: run 3 whole, nothing repeated.
    assert stored.last_event_id == snapshot_id
    assert key(snapshots[0].id) <= key(snapshot_id)
    after = conn.events[2:]
    check_run(after, three["runId"])
    assert pairs(after) == pairs(parse_strict(other.raw)[0])
    assert all(key(e.id) > key(snapshot_id) for e in after)
    assert [key(e.id) for e in after] == sorted({key(e.id) for e in after})


@pytest.mark.parametrize("settings_overrides", [TRIMMED], indirect=True)
async def test_resuming_between_the_two_snapshots_loses_nothing(
    api: Api, app: Any, ann: Account, base: str, model: ScriptedModel
) -> None:
    """A client that drops right after the MESSAGES_SNAPSHOT resumes from that event's id: it
    must still get the thread's state (run 2 changed it in events it never saw)."""
    thread, old = await _trimmed_thread(api, app, ann, base, model)
    url = events_url(base, thread)
    async with sse_connection(url, ann.access_token, last_event_id=old) as conn:
        messages, state = await conn.until_events(2)
    assert (messages.event, state.event) == ("MESSAGES_SNAPSHOT", "STATE_SNAPSHOT")
    async with sse_connection(url, ann.access_token, last_event_id=messages.id) as again:
        await again.read_for(1.0)
    states = [e.data["snapshot"] for e in again.events if e.event == "STATE_SNAPSHOT"]
    assert states and states[0]["mood"] == "busy", (
        "resuming after the MESSAGES_SNAPSHOT's id lost the STATE_SNAPSHOT",
        messages.id,
        state.id,
        again.events,
    )
    assert key(messages.id) < key(state.id), "ids must strictly increase"


@pytest.mark.parametrize("settings_overrides", [{"agent_stream_max_len": 7}], indirect=True)
async def test_an_id_before_a_trimmed_first_event_starts_with_snapshots(
    api: Api, app: Any, ann: Account, base: str, backend: Any
) -> None:
    """Exact trimming (in-process streams) of only the thread's very first event, its
    RUN_STARTED: a client that has seen nothing (`0-0`) must not get the run without it."""
    if backend.real:
        pytest.skip("Redis trims whole nodes: it cannot drop exactly one entry")
    thread = new_thread()
    run_id = await finished_run(api, ann, thread, "hi")  # 8 events: the first is trimmed
    held = await streams_of(app).read_after(thread, None, 100)
    assert held[0][1]["type"] == "STATE_SNAPSHOT", held
    async with sse_connection(events_url(base, thread), ann.access_token, "0-0") as conn:
        await conn.until_events(1)
    first = conn.events[0]
    assert first.event == "MESSAGES_SNAPSHOT", (
        f"0-0 on a stream that lost run {run_id}'s RUN_STARTED replayed from {first.event} "
        "without snapshots"
    )


async def test_an_old_id_on_an_untrimmed_stream_replays_without_snapshots(
    api: Api, ann: Account, base: str
) -> None:
    thread, full = await first_run(api, ann, base)
    url = events_url(base, thread)
    ms, _ = key(full[0].id)
    for old in ("0-0", f"{ms - 1}-99"):
        replay = await read_run(url, ann.access_token, last_event_id=old)
        assert pairs(replay) == pairs(full), old
        assert replay[0].event == "RUN_STARTED"


# --- keep-alives, several runs, several subscribers, leaving --------------------------------------


async def test_an_idle_stream_sends_keepalive_comments(api: Api, ann: Account, base: str) -> None:
    thread, full = await first_run(api, ann, base)
    url = events_url(base, thread)
    async with sse_connection(url, ann.access_token, last_event_id=full[-1].id) as conn:
        await conn.read_for(1.0)
        assert not conn.ended
    assert conn.events == []
    _, comments = parse_strict(conn.raw)
    assert comments >= 2, conn.raw
    assert conn.raw.startswith(b": ")
    assert all(line.startswith(b": ") for line in conn.raw.split(b"\n") if line), conn.raw


async def test_one_connection_sees_one_run_after_another(api: Api, ann: Account, base: str) -> None:
    thread = new_thread()
    one = await start_run(api, ann, run_input(thread, text="one"))
    async with sse_connection(events_url(base, thread), ann.access_token) as conn:
        await conn.until_runs(1)
        await asyncio.sleep(0.5)  # idle for a while: keep-alives only
        two = await start_run(api, ann, run_input(thread, text="two"))
        await conn.until_runs(2)
    events, comments = parse_strict(conn.raw)
    assert pairs(events) == pairs(conn.events)
    assert comments >= 1
    runs = split_runs(events)
    assert len(runs) == 2
    check_run(runs[0], one["runId"])
    check_run(runs[1], two["runId"])


async def test_two_subscribers_of_a_thread_see_the_same_events(
    api: Api, ann: Account, base: str, model: ScriptedModel
) -> None:
    model.delay_s = 0.02
    model.add_turn(*tool_turn("list_schedule_items", {}))
    model.add_turn(*text_turn(*[f"t{i}" for i in range(10)]))
    thread = new_thread()
    ticket = await start_run(api, ann, run_input(thread, text="what's on?"))
    url = events_url(base, thread)
    async with (
        sse_connection(url, ann.access_token) as one,
        sse_connection(url, ann.access_token) as two,
    ):
        first, second = await asyncio.gather(one.until_runs(1), two.until_runs(1))
    assert pairs(first) == pairs(second)
    assert pairs(parse_strict(one.raw)[0]) == pairs(parse_strict(two.raw)[0]) == pairs(first)
    check_run(first, ticket["runId"])


@pytest.mark.parametrize("settings_overrides", [{"agent_sse_keepalive_s": 60}], indirect=True)
async def test_the_server_notices_a_client_that_left(
    api: Api, app: Any, ann: Account, base: str, ws_url: str
) -> None:
    """No keep-alive is due within the test: the server must notice the disconnect itself."""
    streams = streams_of(app)
    thread, full = await first_run(api, ann, base)
    await wait_for(lambda: streams.subscriber_count(thread) == 0, 2)
    url = events_url(base, thread)
    async with sse_connection(url, ann.access_token, last_event_id=full[-1].id):
        await wait_for(lambda: streams.subscriber_count(thread) == 1, 2)
    await wait_for(lambda: streams.subscriber_count(thread) == 0, 2)
    for protocol in PROTOCOLS:
        async with gql_socket(ws_url, protocol, auth_payload(ann.access_token)) as socket:
            op = await socket.subscribe(AGENT_EVENTS, {"t": thread, "a": full[-1].id})
            await wait_for(lambda: streams.subscriber_count(thread) == 1, 2)
            await socket.stop(op)
            await wait_for(lambda: streams.subscriber_count(thread) == 0, 2)
            await socket.subscribe(AGENT_EVENTS, {"t": thread, "a": full[-1].id})
            await wait_for(lambda: streams.subscriber_count(thread) == 1, 2)
        await wait_for(lambda: streams.subscriber_count(thread) == 0, 2)


# --- GraphQL ------------------------------------------------------------------------------------


async def _gql_run(socket: GqlSocket, op: str) -> list[dict[str, Any]]:
    """The subscription's items up to the first terminal event."""
    items: list[dict[str, Any]] = []
    while not items or items[-1]["type"] not in TERMINAL:
        event = await socket.event(op)
        assert event.kind == "next" and not event.errors, event
        items.append(event.data["agentEvents"])
    return items


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_graphql_agent_events_are_the_sse_events(
    api: Api, ann: Account, base: str, ws_url: str, model: ScriptedModel, protocol: str
) -> None:
    model.delay_s = 0.02
    model.add_turn(*tool_turn("list_friends", {}))
    model.add_turn(*text_turn(*[f"g{i}" for i in range(8)]))
    thread = new_thread()
    ticket = await start_run(api, ann, run_input(thread, text="graphql"))
    url = events_url(base, thread)
    async with (
        gql_socket(ws_url, protocol, auth_payload(ann.access_token)) as socket,
        sse_connection(url, ann.access_token) as sse,
    ):
        op = await socket.subscribe(AGENT_EVENTS, {"t": thread})
        live, sse_events = await asyncio.gather(_gql_run(socket, op), sse.until_runs(1))
        await socket.stop(op)
        check_run(sse_events, ticket["runId"])
        assert [(i["id"], i["type"], i["event"]) for i in live] == [
            (e.id, e.event, e.data) for e in sse_events
        ]
        cut = len(live) // 2
        op = await socket.subscribe(AGENT_EVENTS, {"t": thread, "a": live[cut]["id"]})
        resumed = await _gql_run(socket, op)
        assert resumed == live[cut + 1 :]
        await socket.stop(op)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_graphql_agent_events_refuses_bad_requests(
    api: Api, ann: Account, base: str, ws_url: str, protocol: str
) -> None:
    bob = await api.quick_user("bob")
    thread, _ = await first_run(api, ann, base)
    async with gql_socket(ws_url, protocol, auth_payload(bob.access_token)) as socket:
        op = await socket.subscribe(AGENT_EVENTS, {"t": thread})
        assert await expect_error(socket, op) == "FORBIDDEN"
        op = await socket.subscribe(AGENT_EVENTS, {"t": "not-a-uuid"})
        assert await expect_error(socket, op) == "BAD_USER_INPUT"
    async with gql_socket(ws_url, protocol, auth_payload(ann.access_token)) as socket:
        for value in ("abc", "1-", "1-2-3", "١-0", f"{2**64}-0"):
            op = await socket.subscribe(AGENT_EVENTS, {"t": thread, "a": value})
            assert await expect_error(socket, op) == "BAD_USER_INPUT", value
        op = await socket.subscribe(AGENT_EVENTS, {"t": thread, "a": "0-0"})
        assert (await _gql_run(socket, op))[0]["type"] == "RUN_STARTED"
        await socket.stop(op)


async def test_sse_refuses_other_users_and_bad_thread_ids(
    api: Api, ann: Account, base: str
) -> None:
    bob = await api.quick_user("bob")
    thread, _ = await first_run(api, ann, base)
    r = await api.rest("GET", f"/agent/runs/{thread}/events", bob.access_token)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.rest("GET", "/agent/runs/not-a-uuid/events", ann.access_token)
    assert r.status_code == 404, r.text
    r = await api.client.get(f"{API}/agent/runs/{thread}/events")
    assert r.status_code == 401, r.text


# --- a thread watched before it exists (docs/agent.md "Thread ownership") -------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_thread_watched_before_its_first_run_delivers_only_the_watchers_run(
    api: Api, app: Any, ann: Account, base: str, ws_url: str, protocol: str
) -> None:
    bob = await api.quick_user("bob")
    streams = streams_of(app)
    mine, theirs = new_thread(), new_thread()
    async with (
        sse_connection(events_url(base, mine), ann.access_token) as sse,
        sse_connection(events_url(base, theirs), bob.access_token) as intruder_sse,
        gql_socket(ws_url, protocol, auth_payload(ann.access_token)) as socket,
        gql_socket(ws_url, protocol, auth_payload(bob.access_token)) as intruder,
    ):
        assert sse.status == 200 and intruder_sse.status == 200
        op = await socket.subscribe(AGENT_EVENTS, {"t": mine})
        spy = await intruder.subscribe(AGENT_EVENTS, {"t": theirs})
        await wait_for(lambda: streams.subscriber_count(mine) == 2, 2)
        await wait_for(lambda: streams.subscriber_count(theirs) == 2, 2)
        ticket = await start_run(api, ann, run_input(mine, text="mine"))
        await start_run(api, ann, run_input(theirs, text="not for bob"))
        live, sse_events = await asyncio.gather(_gql_run(socket, op), sse.until_runs(1))
        check_run(sse_events, ticket["runId"])
        assert [(i["id"], i["event"]) for i in live] == [(e.id, e.data) for e in sse_events]
        # Bob's watches of Ann's new thread get nothing (they may end or stay silent).
        await intruder_sse.read_for(0.3)
        assert intruder_sse.events == [], intruder_sse.events
        if not await intruder.silent(spy, 0.3):
            event = await intruder.event(spy)
            assert event.kind == "complete", event
