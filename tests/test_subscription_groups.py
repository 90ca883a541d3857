"""Grouped websocket subscriptions (server/subscription_groups.py): N subscribers of one thread's
`agentEvents` cost one execution per event, and each of them still gets every event after its
cursor, in order, once — on both protocols, through gql and at the frame level.

Events are appended to the thread's stream directly (no agent run), so the tests are about the
fan-out alone. The hub's `deliveries` counter (one per event executed and encoded for a group)
proves that grouping did not silently fall back to the per-subscriber path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from models import AgentThread, User
from resolvers.sessions import open_session
from server.subscription_groups import SLOW_CONSUMER_CODE, SubscriptionGroups
from tests.support.client import Account, Api
from tests.support.gql_clients import GqlSubscription, gql_ws_session, subscription
from tests.support.live_server import (
    LEGACY_WS,
    PROTOCOLS,
    TRANSPORT_WS,
    GqlSocket,
    auth_payload,
    gql_socket,
    live_server,
)
from tests.support.ws_frames import FrameLog

AGENT_EVENTS = (
    "subscription($t: ID!, $a: String) { agentEvents(threadId: $t, after: $a) { id type event } }"
)
# The same answer, but a directive keeps it off the grouped path.
UNGROUPED = (
    "subscription($t: ID!, $a: String) "
    "{ agentEvents(threadId: $t, after: $a) { id type event @include(if: true) } }"
)
SIGN_OUT = "mutation($t: String!) { signOut(refreshToken: $t) }"
QUEUE_BOUND = 4000  # bytes queued for one client before it is closed (WS_MAX_QUEUED_BYTES)
# Text that JSON encoders are known to disagree on: escapes, non-ASCII, line separators.
AWKWARD_EVENTS: list[dict[str, Any]] = [
    {
        "type": "TEXT_MESSAGE_CONTENT",
        "messageId": "m1",
        "delta": 'h\u00e9llo "w"\n</script> \u2603 \U0001f600',
    },
    {
        "type": "STATE_DELTA",
        "delta": [
            {
                "op": "add",
                "path": "/a",
                "value": {"n": 1.5, "i": 9007199254740993, "z": None, "l": [True, False]},
            }
        ],
    },
    {"type": "CUSTOM", "name": "x", "value": "\u2028\u2029\t\\"},
]

Message = MutableMapping[str, Any]
ASGI = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"ws_max_queued_bytes": QUEUE_BOUND}


class Stall:
    """Holds back the server's frames to sockets opened with `?slow`, while closed: a client that
    reads nothing, without filling kernel buffers."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    def wrap(self, app: ASGI) -> ASGI:
        async def wrapped(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "websocket" or b"slow" not in scope.get("query_string", b""):
                await app(scope, receive, send)
                return

            async def stalling(message: Message) -> None:
                if message["type"] == "websocket.send":
                    await self.open.wait()
                await send(message)

            await app(scope, receive, stalling)

        return wrapped


@pytest.fixture
def stall() -> Stall:
    return Stall()


@pytest.fixture
async def url(app: Any, stall: Stall) -> AsyncIterator[str]:
    frames = FrameLog()
    async with live_server(stall.wrap(frames.wrap(app))) as ws_url:
        yield ws_url
    stall.open.set()
    frames.assert_all_text()


def groups_of(app: Any) -> SubscriptionGroups:
    groups = app.state.subscription_groups
    assert isinstance(groups, SubscriptionGroups)
    return groups


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Polls: the hub has no event for "a member joined" (one just for tests is not worth it)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def new_thread(owner: Account) -> uuid.UUID:
    thread = uuid.uuid4()
    await AgentThread.create(id=thread, owner_id=owner.id, last_active_at=datetime.now(UTC))
    return thread


async def append(app: Any, thread: uuid.UUID, event: dict[str, Any] | int) -> str:
    if isinstance(event, int):
        event = {"type": "CUSTOM", "name": "n", "value": event}
    event_id: str = await app.state.services.streams.append(str(thread), event)
    return event_id


async def ids_of(sub: GqlSubscription, count: int) -> list[str]:
    return [(await sub.next())["agentEvents"]["id"] for _ in range(count)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_every_subscriber_gets_every_event_once_in_order_for_one_execution(
    app: Any, url: str, alice: Account, protocol: str
) -> None:
    groups = groups_of(app)
    thread = await new_thread(alice)
    start = await append(app, thread, 0)
    variables = {"t": str(thread), "a": start}
    async with contextlib.AsyncExitStack() as stack:
        subs = []
        for _ in range(3):
            session = await stack.enter_async_context(
                gql_ws_session(url, protocol, alice.access_token)
            )
            subs.append(
                await stack.enter_async_context(subscription(session, AGENT_EVENTS, variables))
            )
        await until(lambda: groups.group_sizes(thread) == [3])
        executed = groups.hub.deliveries
        first = [await append(app, thread, i) for i in range(1, 6)]
        for sub in subs:
            assert await ids_of(sub, 5) == first
        assert groups.hub.deliveries - executed == 5  # once per event, not per subscriber

        # Mid-stream with `after`: it catches up on a group of its own, then joins the others.
        session = await stack.enter_async_context(gql_ws_session(url, protocol, alice.access_token))
        late = await stack.enter_async_context(
            subscription(session, AGENT_EVENTS, {"t": str(thread), "a": first[1]})
        )
        assert await ids_of(late, 3) == first[2:]
        await until(lambda: groups.group_sizes(thread) == [4])
        executed = groups.hub.deliveries
        second = [await append(app, thread, i) for i in range(6, 9)]
        for sub in [*subs, late]:
            assert await ids_of(sub, 3) == second
            assert await sub.silent(0.1)  # nothing twice
        assert groups.hub.deliveries - executed == 3
    await until(lambda: groups.group_sizes(thread) == [])  # the last one out stops the group


async def _raw_frames(sock: GqlSocket, count: int) -> list[str]:
    frames: list[str] = []
    while len(frames) < count:
        raw = await asyncio.wait_for(sock.ws.recv(), 5)
        assert isinstance(raw, str)
        if json.loads(raw).get("type") in ("next", "data"):
            frames.append(raw)
    return frames


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_grouped_frames_are_byte_for_byte_the_per_subscriber_ones(
    app: Any, url: str, alice: Account, protocol: str
) -> None:
    groups = groups_of(app)
    thread = await new_thread(alice)
    start = await append(app, thread, 0)
    variables = {"t": str(thread), "a": start}
    async with gql_socket(url, protocol, auth_payload(alice.access_token)) as sock:
        grouped = await sock.subscribe(AGENT_EVENTS, variables)
        alone = await sock.subscribe(UNGROUPED, variables)
        await until(lambda: groups.group_sizes(thread) == [1])
        executed = groups.hub.deliveries
        for event in AWKWARD_EVENTS:
            await append(app, thread, event)
        frames = await _raw_frames(sock, 2 * len(AWKWARD_EVENTS))
    assert groups.hub.deliveries - executed == len(AWKWARD_EVENTS)  # the grouped one only

    def of(op_id: str) -> list[str]:
        token = json.dumps(op_id)
        mine = [f for f in frames if json.loads(f)["id"] == op_id]
        return [f.replace(token, '"ID"', 1) for f in mine]

    assert len(of(grouped)) == len(AWKWARD_EVENTS)
    assert of(grouped) == of(alone)
    kind = "next" if protocol == TRANSPORT_WS else "data"
    assert all(json.loads(f)["type"] == kind for f in of(grouped))
    delivered = [json.loads(f)["payload"]["data"]["agentEvents"]["event"] for f in of(grouped)]
    assert delivered == AWKWARD_EVENTS


async def _ids(sock: GqlSocket, op_id: str, count: int) -> list[str]:
    return [(await sock.event(op_id)).data["agentEvents"]["id"] for _ in range(count)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_slow_client_gets_its_backlog_or_is_closed_and_resumes_losslessly(
    app: Any, url: str, alice: Account, stall: Stall, protocol: str
) -> None:
    groups = groups_of(app)
    thread = await new_thread(alice)
    start = await append(app, thread, 0)
    variables = {"t": str(thread), "a": start}
    auth = auth_payload(alice.access_token)
    async with (
        gql_socket(url, protocol, auth) as fast,
        gql_socket(url + "?slow", protocol, auth) as slow,
    ):
        fast_op = await fast.subscribe(AGENT_EVENTS, variables)
        slow_op = await slow.subscribe(AGENT_EVENTS, variables)
        await until(lambda: groups.group_sizes(thread) == [2])

        # Reads nothing for a while, within the bound: then everything arrives, in order.
        stall.open.clear()
        backlog = [await append(app, thread, i) for i in range(3)]
        assert await _ids(fast, fast_op, 3) == backlog
        assert await slow.silent(slow_op, 0.2)
        stall.open.set()
        assert await _ids(slow, slow_op, 3) == backlog

        # Beyond the bound: the server closes it (1013) instead of queueing on.
        stall.open.clear()
        filler = "x" * (QUEUE_BOUND // 4)
        burst = [await append(app, thread, {"type": "CUSTOM", "value": filler}) for _ in range(8)]
        assert await _ids(fast, fast_op, 8) == burst
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(slow.ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == SLOW_CONSUMER_CODE
        stall.open.set()

    # It resumes after the last event it received and loses nothing.
    async with gql_socket(url, protocol, auth) as again:
        op = await again.subscribe(AGENT_EVENTS, {"t": str(thread), "a": backlog[-1]})
        assert await _ids(again, op, 8) == burst
        assert await again.silent(op, 0.1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_subscriber_that_signs_out_stops_and_the_group_continues(
    app: Any, api: Api, url: str, alice: Account, protocol: str
) -> None:
    groups = groups_of(app)
    user = await User.get(id=alice.id)
    other = await open_session(app.state.services, user)  # alice on a second device
    thread = await new_thread(alice)
    start = await append(app, thread, 0)
    variables = {"t": str(thread), "a": start}
    async with (
        gql_ws_session(url, protocol, alice.access_token) as staying_session,
        gql_ws_session(url, protocol, other.access_token) as leaving_session,
        subscription(staying_session, AGENT_EVENTS, variables) as staying,
        subscription(leaving_session, AGENT_EVENTS, variables) as leaving,
    ):
        await until(lambda: groups.group_sizes(thread) == [2])
        first = await append(app, thread, 1)
        assert await ids_of(staying, 1) == [first]
        assert await ids_of(leaving, 1) == [first]

        signed_out = await api.gql(SIGN_OUT, {"t": other.refresh_token}, other.access_token)
        assert signed_out == {"data": {"signOut": True}}
        await leaving.ends()
        await until(lambda: groups.group_sizes(thread) == [1])
        later = [await append(app, thread, i) for i in range(2, 4)]
        assert await ids_of(staying, 2) == later
        assert await leaving.silent(0.1)


async def test_operations_that_do_not_fit_a_group_run_alone(
    app: Any, url: str, alice: Account
) -> None:
    groups = groups_of(app)
    thread = await new_thread(alice)
    start = await append(app, thread, 0)
    async with gql_socket(url, LEGACY_WS, auth_payload(alice.access_token)) as sock:
        op = await sock.subscribe(UNGROUPED, {"t": str(thread), "a": start})
        bad = await sock.subscribe(AGENT_EVENTS, {"t": str(thread), "a": "nope"})
        assert (await sock.event(bad)).codes == ["BAD_USER_INPUT"]
        event_id = await append(app, thread, 1)
        assert await _ids(sock, op, 1) == [event_id]
    assert groups.group_sizes(thread) == []
