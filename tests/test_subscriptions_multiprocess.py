"""Two `runtime-api serve` processes behind one PostgreSQL database and one Redis: a change made
through one process reaches a subscriber connected to the other (docs/contract.md §1 production
shape, §4 Subscription). Only on the real backend; the embedded one has no shared event stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.backend import detect
from tests.support.live_server import TRANSPORT_WS, GqlSocket, auth_payload, gql_socket
from tests.support.multiprocess import fresh_database, gql, servers, shared_env, sign_up
from tests.support.server_process import ServerProcess, run_cli

BACKEND = detect()
pytestmark = pytest.mark.skipif(
    not BACKEND.real, reason="needs PostgreSQL and Redis shared by two server processes"
)

INBOX_SUBSCRIPTION = (
    "subscription { inboxMessages { id messageType status sender { id username } } }"
)
ITEM_SUBSCRIPTION = (
    "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind item { id title } } }"
)
SEND_REQUEST = (
    "mutation($input: SendFriendRequestInput!) { sendFriendRequest(input: $input) { id } }"
)
CANCEL_REQUEST = "mutation($id: ID!) { cancelFriendRequest(id: $id) }"
CREATE = "mutation($input: CreateScheduleItemInput!) { createScheduleItem(input: $input) { id } }"
UPDATE = (
    "mutation($id: ID!, $input: UpdateScheduleItemInput!) "
    "{ updateScheduleItem(id: $id, input: $input) { id } }"
)
INBOX = "{ inboxMessages { id sender { id } } }"
# A subscription has no "ready" message, and the other process cannot be asked whether it is
# listening yet: the sender repeats its change until the subscriber hears one.
ATTEMPTS = 10
WAIT_PER_ATTEMPT_S = 1.0


async def heard(
    socket: GqlSocket, op: str, poke: Callable[[int], Awaitable[None]]
) -> dict[str, Any]:
    """Poke until the subscription hears something; its first result."""
    for attempt in range(ATTEMPTS):
        await poke(attempt)
        if not await socket.silent(op, WAIT_PER_ATTEMPT_S):
            event = await socket.event(op)
            assert event.kind == "next" and not event.errors, event
            return dict(next(iter(event.data.values())))
    raise AssertionError(f"nothing arrived in {ATTEMPTS} attempts")


async def test_events_cross_server_processes_through_redis(tmp_path: Path) -> None:
    assert BACKEND.redis_url is not None
    async with fresh_database() as database_url:
        env = shared_env(
            database_url,
            BACKEND.redis_url,
            "multiprocess",
        )
        prefix = env["REDIS_PREFIX"]
        migrated = await asyncio.to_thread(run_cli, "migrate", cwd=tmp_path, env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        try:
            async with servers(tmp_path, env, 2) as (a, b):
                await exchange(a, b)
        finally:
            redis = Redis.from_url(BACKEND.redis_url)
            async for key in redis.scan_iter(match=f"{prefix}*"):
                await redis.delete(key)
            await redis.aclose()


async def exchange(a: ServerProcess, b: ServerProcess) -> None:
    ann = await sign_up(a, "ann")
    bob = await sign_up(b, "bob")  # one database: each process knows both users

    # Ann listens on B; Bob's friend request goes through A.
    async with gql_socket(f"{b.ws_url}/graphql", TRANSPORT_WS, auth_payload(ann["token"])) as s:
        op = await s.subscribe(INBOX_SUBSCRIPTION)
        requests: list[str] = []

        async def send_request(attempt: int) -> None:
            if requests:  # withdraw the unheard one, so that a new one may be sent
                await gql(a, CANCEL_REQUEST, {"id": requests[-1]}, bob["token"])
            variables = {"input": {"targetUserId": ann["id"], "content": f"try {attempt}"}}
            requests.append((await gql(a, SEND_REQUEST, variables, bob["token"]))["id"])

        message = await heard(s, op, send_request)

    assert message["messageType"] == "FRIEND_REQUEST"
    assert message["sender"] == {"id": bob["id"], "username": "bob"}
    inbox = await gql(a, INBOX, {}, ann["token"])
    assert message["id"] in {m["id"] for m in inbox}

    # And the other way round: Ann watches her item on A while she changes it through B.
    item = {"title": "Standup", "startAt": "2026-03-01T09:00:00Z"}
    item_id = (await gql(b, CREATE, {"input": item}, ann["token"]))["id"]
    async with gql_socket(f"{a.ws_url}/graphql", TRANSPORT_WS, auth_payload(ann["token"])) as s:
        op = await s.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})

        async def rename(attempt: int) -> None:
            change = {"id": item_id, "input": {"title": f"Retro {attempt}"}}
            await gql(b, UPDATE, change, ann["token"])

        change = await heard(s, op, rename)

    assert change["kind"] == "UPDATED" and change["item"]["id"] == item_id
    assert change["item"]["title"].startswith("Retro ")
