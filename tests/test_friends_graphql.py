"""Friends through GraphQL (docs/contract.md §3 Friends, §4): every rule, with the `extensions.code`
REST's status maps to (404 NOT_FOUND, 409 CONFLICT, 400 BAD_REQUEST, 422 BAD_USER_INPUT)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.client import Account, Api
from tests.support.graphql_calls import gql_error_code, gql_ok, operation

USER = "{ id username }"
REQUEST_FIELDS = f"id content status createdAt updatedAt from {USER} to {USER}"


SEND = operation(
    "mutation($input: SendFriendRequestInput!)",
    "sendFriendRequest(input: $input)",
    REQUEST_FIELDS,
)
ACCEPT = operation("mutation($id: ID!)", "acceptFriendRequest(id: $id)", REQUEST_FIELDS)
DECLINE = operation("mutation($id: ID!)", "declineFriendRequest(id: $id)", REQUEST_FIELDS)
CANCEL = "mutation($id: ID!) { cancelFriendRequest(id: $id) }"
REMOVE = "mutation($id: ID!) { removeFriend(id: $id) }"
REQUESTS = operation(
    "query($d: FriendRequestDirection!)", "friendRequests(direction: $d)", REQUEST_FIELDS
)
FRIENDS = "{ friends { id createdAt friend { id username avatarUrl bio } } }"
INBOX = "{ inboxMessages { id messageType status isRead content sender { id } recipient { id } } }"


async def send(api: Api, sender: Account, to: Account, content: str | None = None) -> Any:
    variables = {"input": {"targetUserId": to.id, "content": content}}
    return await gql_ok(api, SEND, variables, sender)


async def send_code(api: Api, sender: Account, target_id: str) -> str | None:
    return await gql_error_code(api, SEND, {"input": {"targetUserId": target_id}}, sender)


async def requests(api: Api, who: Account, direction: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await gql_ok(api, REQUESTS, {"d": direction}, who)
    return result


async def friends(api: Api, who: Account) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await gql_ok(api, FRIENDS, {}, who)
    return result


async def befriend(api: Api, a: Account, b: Account) -> str:
    """a and b become friends; returns the friendship's id."""
    request = await send(api, a, b)
    await gql_ok(api, ACCEPT, {"id": request["id"]}, b)
    (friendship,) = [f for f in await friends(api, a) if f["friend"]["id"] == b.id]
    return str(friendship["id"])


async def test_every_friend_operation_needs_a_token(api: Api) -> None:
    some_id = str(uuid.uuid4())
    operations: list[tuple[str, dict[str, Any]]] = [
        (FRIENDS, {}),
        (REQUESTS, {"d": "INCOMING"}),
        (SEND, {"input": {"targetUserId": some_id}}),
        (ACCEPT, {"id": some_id}),
        (DECLINE, {"id": some_id}),
        (CANCEL, {"id": some_id}),
        (REMOVE, {"id": some_id}),
    ]
    for query, variables in operations:
        assert await gql_error_code(api, query, variables, None) == "UNAUTHENTICATED", query


async def test_send_returns_a_pending_request_between_the_right_users(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()

    request = await send(api, ann, bob, "hi, it's Ann")

    assert request["status"] == "PENDING" and request["content"] == "hi, it's Ann"
    assert request["from"] == {"id": ann.id, "username": ann.username}
    assert request["to"] == {"id": bob.id, "username": bob.username}
    assert request["createdAt"].endswith("+00:00")
    assert [r["id"] for r in await requests(api, bob, "INCOMING")] == [request["id"]]
    assert [r["id"] for r in await requests(api, ann, "OUTGOING")] == [request["id"]]
    assert await requests(api, ann, "INCOMING") == []
    assert await requests(api, bob, "OUTGOING") == []


async def test_send_rejects_oneself_unknown_users_and_invalid_input(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()

    assert await send_code(api, ann, ann.id) == "BAD_REQUEST"
    assert await send_code(api, ann, str(uuid.uuid4())) == "NOT_FOUND"
    assert await send_code(api, ann, "not-a-uuid") == "BAD_USER_INPUT"
    too_long = {"input": {"targetUserId": bob.id, "content": "x" * 501}}
    assert await gql_error_code(api, SEND, too_long, ann) == "BAD_USER_INPUT"
    assert await requests(api, bob, "INCOMING") == [] and await requests(api, ann, "INCOMING") == []


async def test_a_pending_request_in_either_direction_is_a_conflict(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    await send(api, ann, bob)

    assert await send_code(api, ann, bob.id) == "CONFLICT"
    assert await send_code(api, bob, ann.id) == "CONFLICT"
    assert len(await requests(api, bob, "INCOMING")) == 1


async def test_friends_cannot_send_each_other_requests(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    await befriend(api, ann, bob)

    assert await send_code(api, ann, bob.id) == "CONFLICT"
    assert await send_code(api, bob, ann.id) == "CONFLICT"


async def test_a_new_request_may_follow_a_decline_or_a_cancel(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    first = await send(api, ann, bob)
    await gql_ok(api, DECLINE, {"id": first["id"]}, bob)

    second = await send(api, ann, bob)
    assert second["id"] != first["id"]
    assert await gql_ok(api, CANCEL, {"id": second["id"]}, ann) is True

    third = await send(api, bob, ann)  # the other way round, too
    assert [r["id"] for r in await requests(api, ann, "INCOMING")] == [third["id"]]


async def test_friend_requests_list_pending_ones_newest_first(api: Api) -> None:
    ann = await api.quick_user()
    senders = [await api.quick_user() for _ in range(4)]
    sent = [await send(api, s, ann, f"from {s.username}") for s in senders]
    await gql_ok(api, DECLINE, {"id": sent[1]["id"]}, ann)  # answered: no longer listed

    incoming = await requests(api, ann, "INCOMING")

    assert [r["id"] for r in incoming] == [sent[3]["id"], sent[2]["id"], sent[0]["id"]]
    assert [r["from"]["id"] for r in incoming] == [senders[3].id, senders[2].id, senders[0].id]
    assert all(r["to"]["id"] == ann.id and r["status"] == "PENDING" for r in incoming)

    targets = [await api.quick_user() for _ in range(3)]
    mine = [await send(api, ann, t) for t in targets]
    outgoing = await requests(api, ann, "OUTGOING")
    assert [r["id"] for r in outgoing] == [m["id"] for m in reversed(mine)]
    assert [r["to"]["username"] for r in outgoing] == [t.username for t in reversed(targets)]


async def test_accept_makes_one_friendship_visible_to_both(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    request = await send(api, ann, bob)

    accepted = await gql_ok(api, ACCEPT, {"id": request["id"]}, bob)

    assert accepted["id"] == request["id"] and accepted["status"] == "ACCEPTED"
    assert accepted["from"]["id"] == ann.id and accepted["to"]["id"] == bob.id
    (anns,) = await friends(api, ann)
    (bobs,) = await friends(api, bob)
    assert anns["id"] == bobs["id"]  # one friendship, seen from both sides
    assert anns["friend"] == {
        "id": bob.id,
        "username": bob.username,
        "avatarUrl": None,
        "bio": None,
    }
    assert bobs["friend"]["id"] == ann.id and bobs["friend"]["username"] == ann.username
    assert await requests(api, bob, "INCOMING") == []
    assert await requests(api, ann, "OUTGOING") == []


async def test_friends_are_listed_newest_first(api: Api) -> None:
    ann = await api.quick_user()
    others = [await api.quick_user() for _ in range(3)]
    for i, other in enumerate(others):  # whoever asked, the friendship is listed alike
        await (befriend(api, other, ann) if i % 2 else befriend(api, ann, other))

    listed = await friends(api, ann)

    assert [f["friend"]["id"] for f in listed] == [o.id for o in reversed(others)]


async def test_only_the_recipient_may_accept_or_decline(api: Api) -> None:
    ann, bob, eve = await api.quick_user(), await api.quick_user(), await api.quick_user()
    request = await send(api, ann, bob)
    for mutation in (ACCEPT, DECLINE):
        assert await gql_error_code(api, mutation, {"id": request["id"]}, ann) == "NOT_FOUND"
        assert await gql_error_code(api, mutation, {"id": request["id"]}, eve) == "NOT_FOUND"
        assert await gql_error_code(api, mutation, {"id": str(uuid.uuid4())}, bob) == "NOT_FOUND"
        assert await gql_error_code(api, mutation, {"id": "nope"}, bob) == "NOT_FOUND"
    assert await friends(api, ann) == [] and await friends(api, eve) == []
    assert len(await requests(api, bob, "INCOMING")) == 1


async def test_decline_closes_the_request_without_a_friendship(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    request = await send(api, ann, bob)

    declined = await gql_ok(api, DECLINE, {"id": request["id"]}, bob)

    assert declined["status"] == "DECLINED" and declined["to"]["id"] == bob.id
    assert await friends(api, ann) == [] and await friends(api, bob) == []
    assert await requests(api, bob, "INCOMING") == []


async def test_a_request_no_longer_pending_is_a_conflict_to_answer(api: Api) -> None:
    for first in ("accept", "decline", "cancel"):
        ann, bob = await api.quick_user(), await api.quick_user()
        request = await send(api, ann, bob)
        if first == "cancel":
            await gql_ok(api, CANCEL, {"id": request["id"]}, ann)
        else:
            await gql_ok(api, ACCEPT if first == "accept" else DECLINE, {"id": request["id"]}, bob)

        assert await gql_error_code(api, ACCEPT, {"id": request["id"]}, bob) == "CONFLICT", first
        assert await gql_error_code(api, DECLINE, {"id": request["id"]}, bob) == "CONFLICT", first
        # cancelling is for the sender's pending requests only: anything else is not found
        assert await gql_error_code(api, CANCEL, {"id": request["id"]}, ann) == "NOT_FOUND", first


async def test_only_the_sender_may_cancel(api: Api) -> None:
    ann, bob, eve = await api.quick_user(), await api.quick_user(), await api.quick_user()
    request = await send(api, ann, bob)

    assert await gql_error_code(api, CANCEL, {"id": request["id"]}, bob) == "NOT_FOUND"
    assert await gql_error_code(api, CANCEL, {"id": request["id"]}, eve) == "NOT_FOUND"
    assert await gql_error_code(api, CANCEL, {"id": str(uuid.uuid4())}, ann) == "NOT_FOUND"
    assert await gql_error_code(api, CANCEL, {"id": "nope"}, ann) == "NOT_FOUND"
    assert len(await requests(api, bob, "INCOMING")) == 1

    assert await gql_ok(api, CANCEL, {"id": request["id"]}, ann) is True
    assert await requests(api, bob, "INCOMING") == []
    assert await requests(api, ann, "OUTGOING") == []


@pytest.mark.parametrize(("key", "side"), [("friendship", "sender"), ("friend", "recipient")])
async def test_remove_friend_takes_the_friendship_or_the_friend_id(
    api: Api, key: str, side: str
) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    friendship_id = await befriend(api, ann, bob)
    remover, other = (ann, bob) if side == "sender" else (bob, ann)

    target = friendship_id if key == "friendship" else other.id
    assert await gql_ok(api, REMOVE, {"id": target}, remover) is True

    assert await friends(api, ann) == [] and await friends(api, bob) == []
    assert await gql_error_code(api, REMOVE, {"id": target}, remover) == "NOT_FOUND"
    await send(api, other, remover)  # no longer friends: a request may be sent again


async def test_remove_friend_is_not_found_without_such_a_friendship(api: Api) -> None:
    ann, bob, eve = await api.quick_user(), await api.quick_user(), await api.quick_user()
    friendship_id = await befriend(api, ann, bob)

    for key in (friendship_id, ann.id, bob.id):  # a stranger to the friendship
        assert await gql_error_code(api, REMOVE, {"id": key}, eve) == "NOT_FOUND"
    assert await gql_error_code(api, REMOVE, {"id": ann.id}, ann) == "NOT_FOUND"  # one's own id
    assert await gql_error_code(api, REMOVE, {"id": eve.id}, ann) == "NOT_FOUND"  # not a friend
    assert await gql_error_code(api, REMOVE, {"id": str(uuid.uuid4())}, ann) == "NOT_FOUND"
    assert await gql_error_code(api, REMOVE, {"id": "nope"}, ann) == "NOT_FOUND"
    assert len(await friends(api, ann)) == 1 and len(await friends(api, bob)) == 1


async def test_every_request_is_in_the_recipients_inbox_following_its_status(api: Api) -> None:
    for answer, status in (
        ("accept", "ACCEPTED"),
        ("decline", "REJECTED"),
        ("cancel", "DISMISSED"),
    ):
        ann, bob = await api.quick_user(), await api.quick_user()
        request = await send(api, ann, bob, "let's be friends")

        (message,) = await gql_ok(api, INBOX, {}, bob)
        assert message["messageType"] == "FRIEND_REQUEST" and message["status"] == "PENDING"
        assert message["content"] == "let's be friends" and message["isRead"] is False
        assert message["sender"]["id"] == ann.id and message["recipient"]["id"] == bob.id
        assert await gql_ok(api, INBOX, {}, ann) == []  # the sender's inbox is untouched

        if answer == "cancel":
            await gql_ok(api, CANCEL, {"id": request["id"]}, ann)
        else:
            await gql_ok(api, ACCEPT if answer == "accept" else DECLINE, {"id": request["id"]}, bob)

        (after,) = await gql_ok(api, INBOX, {}, bob)
        assert after["id"] == message["id"] and after["status"] == status, answer
