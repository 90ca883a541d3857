"""docs/contract.md §3 Inbox over REST: listing, accepting calendar invitations, dismissing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from models import InboxMessage, ScheduleSubscription
from tests.support.calendar_api import (
    create_item,
    inbox,
    instant,
    ok,
    pending_invitation,
    problem,
    send_request,
    share,
)
from tests.support.client import Account, Api

MESSAGE_KEYS = {
    "id",
    "recipient_id",
    "sender_id",
    "message_type",
    "schedule_item_id",
    "friend_request_id",
    "content",
    "is_read",
    "status",
    "permission",
    "created_at",
}


async def invite(api: Api, owner: Account, to: Account, **bits: bool) -> tuple[str, str]:
    """Share a new item of `owner` with `to`; return (item id, message id)."""
    item = await create_item(api, owner)
    ok(await share(api, owner, item["id"], to.email, **bits))
    message = await pending_invitation(api, to, item["id"])
    return str(item["id"]), str(message["id"])


async def accept(api: Api, account: Account, message_id: str, **kwargs: Any) -> Any:
    return await api.rest(
        "POST", f"/inbox/messages/{message_id}/accept", account.access_token, **kwargs
    )


async def dismiss(api: Api, account: Account, message_id: str) -> Any:
    return await api.rest("POST", f"/inbox/messages/{message_id}/dismiss", account.access_token)


# --- list -----------------------------------------------------------------------------------------


async def test_the_inbox_lists_the_callers_messages_newest_first(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    _, first = await invite(api, alice, bob)
    request = await send_request(api, carol, bob, content="hi")
    _, third = await invite(api, carol, bob)
    messages = await inbox(api, bob)
    assert [m["id"] for m in messages][::2] == [third, first]
    assert messages[1]["friend_request_id"] == request["id"]
    assert all(set(m) == MESSAGE_KEYS for m in messages)
    created = [instant(m["created_at"]) for m in messages]
    assert created == sorted(created, reverse=True)
    assert await inbox(api, alice) == [] and await inbox(api, carol) == []


async def test_the_status_filter(api: Api, alice: Account, bob: Account) -> None:
    _, accepted = await invite(api, alice, bob)
    _, dismissed = await invite(api, alice, bob)
    _, pending = await invite(api, alice, bob)
    request = await send_request(api, alice, bob)
    ok(await accept(api, bob, accepted), 204)
    ok(await dismiss(api, bob, dismissed), 204)
    ok(await api.rest("POST", f"/friends/requests/{request['id']}/decline", bob.access_token))
    by_status = {
        status: [m["id"] for m in await inbox(api, bob, status=status)]
        for status in ("pending", "accepted", "rejected", "dismissed")
    }
    rejected = (await InboxMessage.get(friend_request_id=request["id"])).id
    assert by_status == {
        "pending": [pending],
        "accepted": [accepted],
        "rejected": [str(rejected)],
        "dismissed": [dismissed],
    }
    assert len(await inbox(api, bob)) == 4


@pytest.mark.parametrize("status", ["unread", "PENDING", "declined", ""])
async def test_an_unknown_status_is_422(api: Api, alice: Account, status: str) -> None:
    r = await api.rest("GET", "/inbox/messages", alice.access_token, params={"status": status})
    assert problem(r, 422)["errors"][0]["loc"][:2] == ["query", "status"]


async def test_routes_need_authentication(api: Api) -> None:
    some_id = str(uuid.uuid4())
    problem(await api.rest("GET", "/inbox/messages"), 401)
    problem(await api.rest("POST", f"/inbox/messages/{some_id}/accept"), 401)
    problem(await api.rest("POST", f"/inbox/messages/{some_id}/dismiss"), 401)
    problem(await api.rest("POST", "/inbox/messages/not-a-uuid/dismiss"), 401)


# --- accept ---------------------------------------------------------------------------------------


async def test_accept_without_a_body_asks_for_view_only(
    api: Api, alice: Account, bob: Account
) -> None:
    item, message = await invite(api, alice, bob, permission_edit=True, permission_invite=True)
    r = await accept(api, bob, message)
    assert r.status_code == 204 and r.content == b""
    rows = await ScheduleSubscription.filter(item_id=item)
    assert [(str(r.user_id), r.permission) for r in rows] == [(bob.id, 1)]
    got = ok(await api.rest("GET", f"/schedule-items/{item}", bob.access_token))
    assert got["permission"] == 1
    accepted = (await inbox(api, bob))[0]
    assert accepted["status"] == "accepted" and accepted["is_read"] is True


@pytest.mark.parametrize(
    ("granted", "asked", "expected"),
    [
        (
            {"permission_edit": True, "permission_invite": True},
            {"permission_edit": True, "permission_invite": True},
            7,
        ),
        ({"permission_edit": True, "permission_invite": True}, {}, 1),
        ({"permission_edit": True, "permission_invite": True}, {"permission_invite": True}, 3),
        ({}, {"permission_edit": True, "permission_invite": True}, 1),
        ({"permission_edit": True}, {"permission_edit": True, "permission_invite": True}, 5),
    ],
)
async def test_accept_intersects_granted_and_asked_bits(
    api: Api,
    alice: Account,
    bob: Account,
    granted: dict[str, bool],
    asked: dict[str, bool],
    expected: int,
) -> None:
    item, message = await invite(api, alice, bob, **granted)
    ok(await accept(api, bob, message, json=asked), 204)
    assert (await ScheduleSubscription.get(item_id=item, user_id=bob.id)).permission == expected
    items = ok(await api.rest("GET", "/schedule-items", bob.access_token))
    assert [(i["id"], i["permission"]) for i in items] == [(item, expected)]


async def test_accepting_without_view_is_422(api: Api, alice: Account, bob: Account) -> None:
    _, message = await invite(api, alice, bob)
    problem(await accept(api, bob, message, json={"permission_view": False}), 422)
    assert (await InboxMessage.get(id=message)).status == "pending"
    assert not await ScheduleSubscription.exists()


async def test_accept_of_a_friend_request_message_is_400(
    api: Api, alice: Account, bob: Account
) -> None:
    request = await send_request(api, alice, bob)
    message = (await inbox(api, bob))[0]
    assert message["message_type"] == "friend_request"
    problem(await accept(api, bob, message["id"]), 400)
    assert (await InboxMessage.get(id=message["id"])).status == "pending"
    pending = ok(await api.rest("GET", "/friends/requests/inbox", bob.access_token))
    assert [r["id"] for r in pending] == [request["id"]]


@pytest.mark.parametrize("first", ["accept", "dismiss"])
async def test_accept_of_a_message_no_longer_pending_is_400(
    api: Api, alice: Account, bob: Account, first: str
) -> None:
    item, message = await invite(api, alice, bob)
    ok(await (accept if first == "accept" else dismiss)(api, bob, message), 204)
    problem(await accept(api, bob, message), 400)
    assert await ScheduleSubscription.filter(item_id=item).count() == (first == "accept")


async def test_another_users_message_is_404(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    _, message = await invite(api, alice, bob)
    for who in (alice, carol):
        problem(await accept(api, who, message), 404)
        problem(await dismiss(api, who, message), 404)
    assert (await InboxMessage.get(id=message)).status == "pending"
    assert not await ScheduleSubscription.exists()


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "42", str(uuid.uuid4())])
async def test_malformed_or_unknown_ids_are_404(api: Api, bob: Account, bad_id: str) -> None:
    problem(await accept(api, bob, bad_id), 404)
    problem(await dismiss(api, bob, bad_id), 404)


async def test_accepting_an_invitation_to_a_deleted_item_is_400(
    api: Api, alice: Account, bob: Account
) -> None:
    item, message = await invite(api, alice, bob)
    ok(await api.rest("DELETE", f"/schedule-items/{item}", alice.access_token), 204)
    problem(await accept(api, bob, message), 400)
    assert not await ScheduleSubscription.exists()


async def test_a_subscription_is_removed_from_lists_when_the_item_is_deleted(
    api: Api, alice: Account, bob: Account
) -> None:
    item, message = await invite(api, alice, bob)
    ok(await accept(api, bob, message), 204)
    assert len(ok(await api.rest("GET", "/schedule-items", bob.access_token))) == 1
    ok(await api.rest("DELETE", f"/schedule-items/{item}", alice.access_token), 204)
    assert ok(await api.rest("GET", "/schedule-items", bob.access_token)) == []


# --- dismiss --------------------------------------------------------------------------------------


async def test_dismiss_a_pending_invitation(api: Api, alice: Account, bob: Account) -> None:
    item, message = await invite(api, alice, bob)
    r = await dismiss(api, bob, message)
    assert r.status_code == 204 and r.content == b""
    dismissed = (await inbox(api, bob))[0]
    assert dismissed["status"] == "dismissed" and dismissed["is_read"] is True
    assert not await ScheduleSubscription.exists()
    problem(await api.rest("GET", f"/schedule-items/{item}", bob.access_token), 404)


@pytest.mark.parametrize("first", ["accept", "dismiss"])
async def test_dismiss_of_a_message_no_longer_pending_is_400(
    api: Api, alice: Account, bob: Account, first: str
) -> None:
    _, message = await invite(api, alice, bob)
    ok(await (accept if first == "accept" else dismiss)(api, bob, message), 204)
    problem(await dismiss(api, bob, message), 400)
    expected = "accepted" if first == "accept" else "dismissed"
    assert (await InboxMessage.get(id=message)).status == expected


async def test_dismiss_of_an_answered_friend_request_message_is_400(
    api: Api, alice: Account, bob: Account
) -> None:
    request = await send_request(api, alice, bob)
    ok(await api.rest("POST", f"/friends/requests/{request['id']}/accept", bob.access_token))
    message = (await inbox(api, bob))[0]
    assert message["status"] == "accepted"
    problem(await dismiss(api, bob, message["id"]), 400)


async def test_dismissing_a_friend_request_message_leaves_the_request_pending(
    api: Api, alice: Account, bob: Account
) -> None:
    request = await send_request(api, alice, bob)
    message = (await inbox(api, bob))[0]
    ok(await dismiss(api, bob, message["id"]), 204)
    assert (await inbox(api, bob, status="dismissed"))[0]["id"] == message["id"]
    pending = ok(await api.rest("GET", "/friends/requests/inbox", bob.access_token))
    assert [r["id"] for r in pending] == [request["id"]]
