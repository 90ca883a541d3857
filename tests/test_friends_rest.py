"""docs/contract.md §3 Friends over REST: requests, their inbox messages, friendships."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from models import FriendRequest, Friendship, InboxMessage
from tests.support.calendar_api import befriend, inbox, instant, ok, problem, send_request
from tests.support.client import Account, Api

REQUEST_KEYS = {"id", "from_user_id", "to_user_id", "content", "status", "created_at", "updated_at"}
FRIEND_KEYS = {"id", "friend_id", "username", "avatar_url", "bio", "created_at"}


async def friend_ids(api: Api, account: Account) -> list[str]:
    return [f["friend_id"] for f in ok(await api.rest("GET", "/friends", account.access_token))]


async def request_message(api: Api, account: Account, request_id: str) -> dict[str, object]:
    found = [m for m in await inbox(api, account) if m["friend_request_id"] == request_id]
    assert len(found) == 1, found
    return found[0]


# --- sending ---------------------------------------------------------------------------------


async def test_send_answers_201_with_the_request(api: Api, alice: Account, bob: Account) -> None:
    created = await send_request(api, alice, bob, content="hi, it's Alice")
    assert set(created) == REQUEST_KEYS
    assert created["from_user_id"] == alice.id and created["to_user_id"] == bob.id
    assert created["status"] == "pending" and created["content"] == "hi, it's Alice"
    assert instant(created["created_at"]).utcoffset() == timedelta(0)
    assert instant(created["updated_at"])
    row = await FriendRequest.get(id=created["id"])
    assert (str(row.from_user_id), str(row.to_user_id)) == (alice.id, bob.id)


async def test_the_recipient_gets_a_pending_friend_request_message(
    api: Api, alice: Account, bob: Account
) -> None:
    created = await send_request(api, alice, bob, content="hello")
    message = await request_message(api, bob, created["id"])
    assert message["message_type"] == "friend_request"
    assert message["status"] == "pending" and message["is_read"] is False
    assert message["sender_id"] == alice.id and message["recipient_id"] == bob.id
    assert message["content"] == "hello" and message["schedule_item_id"] is None
    assert await inbox(api, alice) == []


async def test_a_request_to_oneself_is_400(api: Api, alice: Account) -> None:
    r = await api.rest(
        "POST", "/friends/requests", alice.access_token, json={"target_user_id": alice.id}
    )
    problem(r, 400)
    assert not await FriendRequest.exists()


async def test_a_request_to_an_unknown_user_is_404(api: Api, alice: Account) -> None:
    body = {"target_user_id": str(uuid.uuid4())}
    problem(await api.rest("POST", "/friends/requests", alice.access_token, json=body), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"target_user_id": "not-a-uuid"},
        {},
        {"target_user_id": "00000000-0000-0000-0000-000000000001", "content": "x" * 501},
    ],
)
async def test_an_invalid_body_is_422(api: Api, alice: Account, body: dict[str, str]) -> None:
    r = await api.rest("POST", "/friends/requests", alice.access_token, json=body)
    assert problem(r, 422)["errors"]


async def test_a_second_request_in_either_direction_is_409(
    api: Api, alice: Account, bob: Account
) -> None:
    await send_request(api, alice, bob)
    for sender, target in ((alice, bob), (bob, alice)):
        body = {"target_user_id": target.id}
        r = await api.rest("POST", "/friends/requests", sender.access_token, json=body)
        problem(r, 409)
    assert await FriendRequest.filter(status="pending").count() == 1
    assert await InboxMessage.filter(message_type="friend_request").count() == 1


async def test_a_request_between_friends_is_409(api: Api, alice: Account, bob: Account) -> None:
    await befriend(api, alice, bob)
    for sender, target in ((alice, bob), (bob, alice)):
        body = {"target_user_id": target.id}
        r = await api.rest("POST", "/friends/requests", sender.access_token, json=body)
        problem(r, 409)


async def test_a_new_request_may_follow_a_decline_or_a_cancel(
    api: Api, alice: Account, bob: Account
) -> None:
    first = await send_request(api, alice, bob)
    ok(await api.rest("POST", f"/friends/requests/{first['id']}/decline", bob.access_token))
    second = await send_request(api, alice, bob)
    ok(await api.rest("DELETE", f"/friends/requests/{second['id']}", alice.access_token), 204)
    third = await send_request(api, bob, alice)  # the other direction, too
    assert len({first["id"], second["id"], third["id"]}) == 3
    statuses = {str(r.id): r.status for r in await FriendRequest.all()}
    assert statuses == {first["id"]: "declined", second["id"]: "cancelled", third["id"]: "pending"}


async def test_routes_need_authentication(api: Api) -> None:
    some_id = str(uuid.uuid4())
    for method, path in (
        ("POST", "/friends/requests"),
        ("GET", "/friends/requests/inbox"),
        ("GET", "/friends/requests/outgoing"),
        ("POST", f"/friends/requests/{some_id}/accept"),
        ("POST", f"/friends/requests/{some_id}/decline"),
        ("DELETE", f"/friends/requests/{some_id}"),
        ("GET", "/friends"),
        ("DELETE", f"/friends/{some_id}"),
    ):
        problem(await api.rest(method, path, json={"target_user_id": some_id}), 401)


# --- listing ---------------------------------------------------------------------------------


async def test_incoming_and_outgoing_list_pending_requests_newest_first(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    dave = await api.sign_up("dave")
    from_bob = await send_request(api, bob, alice)
    from_carol = await send_request(api, carol, alice)
    to_dave = await send_request(api, alice, dave)
    incoming = ok(await api.rest("GET", "/friends/requests/inbox", alice.access_token))
    assert [r["id"] for r in incoming] == [from_carol["id"], from_bob["id"]]
    assert all(set(r) == REQUEST_KEYS and r["status"] == "pending" for r in incoming)
    outgoing = ok(await api.rest("GET", "/friends/requests/outgoing", alice.access_token))
    assert [r["id"] for r in outgoing] == [to_dave["id"]]
    assert ok(await api.rest("GET", "/friends/requests/outgoing", bob.access_token)) == [from_bob]
    # Answered requests leave both lists.
    ok(await api.rest("POST", f"/friends/requests/{from_bob['id']}/decline", alice.access_token))
    ok(await api.rest("DELETE", f"/friends/requests/{to_dave['id']}", alice.access_token), 204)
    incoming = ok(await api.rest("GET", "/friends/requests/inbox", alice.access_token))
    assert [r["id"] for r in incoming] == [from_carol["id"]]
    assert ok(await api.rest("GET", "/friends/requests/outgoing", alice.access_token)) == []
    assert ok(await api.rest("GET", "/friends/requests/inbox", dave.access_token)) == []


# --- accept, decline, cancel ------------------------------------------------------------------


async def test_accept_makes_one_friendship_visible_to_both(
    api: Api, alice: Account, bob: Account
) -> None:
    created = await send_request(api, alice, bob)
    accepted = ok(
        await api.rest("POST", f"/friends/requests/{created['id']}/accept", bob.access_token)
    )
    assert set(accepted) == REQUEST_KEYS
    assert accepted["status"] == "accepted" and accepted["id"] == created["id"]
    assert instant(accepted["updated_at"]) >= instant(created["updated_at"])
    assert await Friendship.all().count() == 1
    friendship = await Friendship.get()
    alices = ok(await api.rest("GET", "/friends", alice.access_token))
    bobs = ok(await api.rest("GET", "/friends", bob.access_token))
    assert [f["id"] for f in alices] == [f["id"] for f in bobs] == [str(friendship.id)]
    assert alices[0]["friend_id"] == bob.id and bobs[0]["friend_id"] == alice.id
    assert alices[0]["username"] == "bob" and bobs[0]["username"] == "alice"
    assert set(alices[0]) == FRIEND_KEYS
    assert instant(alices[0]["created_at"])
    message = await request_message(api, bob, created["id"])
    assert message["status"] == "accepted" and message["is_read"] is True


async def test_decline_answers_declined_and_rejects_the_message(
    api: Api, alice: Account, bob: Account
) -> None:
    created = await send_request(api, alice, bob)
    r = await api.rest("POST", f"/friends/requests/{created['id']}/decline", bob.access_token)
    declined = ok(r)
    assert declined["status"] == "declined" and set(declined) == REQUEST_KEYS
    assert not await Friendship.exists()
    assert await friend_ids(api, alice) == await friend_ids(api, bob) == []
    message = await request_message(api, bob, created["id"])
    assert message["status"] == "rejected"


async def test_cancel_by_the_sender_dismisses_the_message(
    api: Api, alice: Account, bob: Account
) -> None:
    created = await send_request(api, alice, bob)
    r = await api.rest("DELETE", f"/friends/requests/{created['id']}", alice.access_token)
    assert r.status_code == 204 and r.content == b""
    assert (await FriendRequest.get(id=created["id"])).status == "cancelled"
    message = await request_message(api, bob, created["id"])
    assert message["status"] == "dismissed"
    # Cancelled: it can be neither accepted nor cancelled again.
    problem(
        await api.rest("POST", f"/friends/requests/{created['id']}/accept", bob.access_token), 409
    )
    problem(await api.rest("DELETE", f"/friends/requests/{created['id']}", alice.access_token), 404)


async def test_only_the_recipient_may_accept_or_decline(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    created = await send_request(api, alice, bob)
    for who in (alice, carol):
        for action in ("accept", "decline"):
            r = await api.rest(
                "POST", f"/friends/requests/{created['id']}/{action}", who.access_token
            )
            problem(r, 404)
    assert (await FriendRequest.get(id=created["id"])).status == "pending"


async def test_only_the_sender_may_cancel(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    created = await send_request(api, alice, bob)
    for who in (bob, carol):
        problem(
            await api.rest("DELETE", f"/friends/requests/{created['id']}", who.access_token), 404
        )
    assert (await FriendRequest.get(id=created["id"])).status == "pending"


@pytest.mark.parametrize("first", ["accept", "decline"])
@pytest.mark.parametrize("second", ["accept", "decline"])
async def test_a_request_no_longer_pending_is_409(
    api: Api, alice: Account, bob: Account, first: str, second: str
) -> None:
    created = await send_request(api, alice, bob)
    ok(await api.rest("POST", f"/friends/requests/{created['id']}/{first}", bob.access_token))
    r = await api.rest("POST", f"/friends/requests/{created['id']}/{second}", bob.access_token)
    problem(r, 409)
    # Cancelling an answered request is "not found" for the sender.
    problem(await api.rest("DELETE", f"/friends/requests/{created['id']}", alice.access_token), 404)
    assert await Friendship.all().count() == (1 if first == "accept" else 0)


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", "/accept"), ("POST", "/decline"), ("DELETE", "")],
)
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", str(uuid.uuid4())])
async def test_malformed_or_unknown_request_ids_are_404(
    api: Api, alice: Account, method: str, suffix: str, bad_id: str
) -> None:
    problem(await api.rest(method, f"/friends/requests/{bad_id}{suffix}", alice.access_token), 404)


async def test_concurrent_accepts_make_exactly_one_friendship(
    api: Api, alice: Account, bob: Account
) -> None:
    created = await send_request(api, alice, bob)
    path = f"/friends/requests/{created['id']}/accept"
    responses = await asyncio.gather(*(api.rest("POST", path, bob.access_token) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses if r.status_code >= 500]
    for r in responses:
        if r.status_code == 409:
            problem(r, 409)
    assert await Friendship.all().count() == 1
    assert (await FriendRequest.get(id=created["id"])).status == "accepted"
    assert (
        await InboxMessage.filter(friend_request_id=created["id"], status="accepted").count() == 1
    )


# --- friendships -------------------------------------------------------------------------------


async def test_friends_list_carries_the_friends_profiles_newest_first(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    ok(await api.rest("PATCH", "/users/me", bob.access_token, json={"bio": "I'm Bob"}))
    await befriend(api, alice, bob)
    await befriend(api, carol, alice)
    friends = ok(await api.rest("GET", "/friends", alice.access_token))
    assert [f["friend_id"] for f in friends] == [carol.id, bob.id]
    assert friends[1]["bio"] == "I'm Bob" and friends[1]["avatar_url"] is None
    assert await friend_ids(api, bob) == [alice.id]
    assert await friend_ids(api, carol) == [alice.id]


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """The SQL statements Tortoise sends meanwhile (through its debug log)."""
    statements: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "connection pool" not in str(record.msg):
                statements.append(record.getMessage())

    logger = logging.getLogger("tortoise.db_client")
    handler, level = Collect(logging.DEBUG), logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_the_friends_list_costs_the_same_statements_for_one_or_many_friends(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    await befriend(api, alice, bob)
    with count_statements() as one:
        assert len(ok(await api.rest("GET", "/friends", alice.access_token))) == 1
    await befriend(api, alice, carol)
    await befriend(api, alice, await api.sign_up("dave"))
    with count_statements() as three:
        assert len(ok(await api.rest("GET", "/friends", alice.access_token))) == 3
    assert one and len(three) == len(one), three


async def test_remove_by_friendship_id_ends_it_for_both(
    api: Api, alice: Account, bob: Account
) -> None:
    friendship_id = await befriend(api, alice, bob)
    r = await api.rest("DELETE", f"/friends/{friendship_id}", bob.access_token)
    assert r.status_code == 204 and r.content == b""
    assert await friend_ids(api, alice) == await friend_ids(api, bob) == []
    assert not await Friendship.exists()
    problem(await api.rest("DELETE", f"/friends/{friendship_id}", alice.access_token), 404)
    # No longer friends: a new request may be sent.
    await send_request(api, bob, alice)


async def test_remove_by_the_friends_user_id(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    await befriend(api, alice, bob)
    await befriend(api, alice, carol)
    ok(await api.rest("DELETE", f"/friends/{bob.id}", alice.access_token), 204)
    assert await friend_ids(api, alice) == [carol.id]
    assert await friend_ids(api, bob) == []
    ok(await api.rest("DELETE", f"/friends/{alice.id}", carol.access_token), 204)
    assert await Friendship.all().count() == 0


async def test_remove_is_404_without_such_a_friendship(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    friendship_id = await befriend(api, alice, bob)
    await befriend(api, alice, carol)
    for key in (friendship_id, bob.id, carol.id, str(uuid.uuid4()), "not-a-uuid"):
        problem(await api.rest("DELETE", f"/friends/{key}", carol.access_token), 404)
    # The caller's own id names no friendship (it must not end all of them).
    problem(await api.rest("DELETE", f"/friends/{alice.id}", alice.access_token), 404)
    assert await Friendship.all().count() == 2
    assert sorted(await friend_ids(api, alice)) == sorted([bob.id, carol.id])
