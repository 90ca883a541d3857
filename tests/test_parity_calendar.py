"""Parity: the same calendar operation gives the same result and the same error class through
REST and GraphQL (REST status <-> GraphQL extensions.code, resolvers/errors.py HTTP_STATUS).

Each case runs through both doors on identical fresh state; the two normalized outcomes must
agree, and must be what the contract says."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from models import FriendRequest, InboxMessage, ScheduleItem, ScheduleSubscription
from models.friends import pair_key
from tests.support.calendar_transports import CalendarTransport
from tests.support.client import Account, Api
from tests.support.transports import Outcome


@dataclass
class World:
    owner: Account
    friend: Account
    viewer: Account  # holds a view-only share of `item`
    stranger: Account
    item_id: str
    request_id: str  # pending friend request owner -> friend
    invitation_id: str  # pending calendar invitation to stranger (granted 7)
    friend_message_id: str  # the friend's inbox message of the request


async def build_world(api: Api) -> World:
    owner, friend, viewer, stranger = [await api.quick_user() for _ in range(4)]
    item = await ScheduleItem.create(
        owner_id=owner.id, title="Standup", start_at="2026-03-01T09:00:00+00:00"
    )
    await ScheduleSubscription.create(item_id=item.id, user_id=viewer.id, permission=1)
    request = await FriendRequest.create(
        from_user_id=owner.id,
        to_user_id=friend.id,
        open_pair=pair_key(uuid.UUID(owner.id), uuid.UUID(friend.id)),
    )
    friend_message = await InboxMessage.create(
        recipient_id=friend.id,
        sender_id=owner.id,
        message_type="friend_request",
        friend_request_id=request.id,
    )
    invitation = await InboxMessage.create(
        recipient_id=stranger.id,
        sender_id=owner.id,
        message_type="calendar",
        schedule_item_id=item.id,
        permission=7,
        open_invitation=f"{item.id}:{stranger.id}",
    )
    return World(
        owner,
        friend,
        viewer,
        stranger,
        str(item.id),
        str(request.id),
        str(invitation.id),
        str(friend_message.id),
    )


Case = Callable[[CalendarTransport, World], Awaitable[Outcome]]
MISSING = str(uuid.UUID(int=1))


def _ok_item(expected: dict[str, Any]) -> Callable[[Outcome], Any]:
    def check(outcome: Outcome) -> Any:
        data = outcome.expect_ok()
        picked = {k: data[k] for k in expected}
        assert picked == expected, (outcome.transport, picked)
        return picked

    return check


CASES: dict[str, tuple[Case, str | Callable[[Outcome], Any]]] = {
    # --- schedule items ---
    "create, naive time read in its zone": (
        lambda t, w: t.create_item(
            w.owner.access_token,
            title="Tea",
            start_at="2026-03-01T09:00:00",
            timezone="Asia/Shanghai",
        ),
        _ok_item(
            {
                "title": "Tea",
                "timezone": "Asia/Shanghai",
                "permission": 7,
                "source_type": "manual",
                "status": "active",
            }
        ),
    ),
    "create, end before start": (
        lambda t, w: t.create_item(
            w.owner.access_token,
            title="x",
            start_at="2026-03-01T09:00:00Z",
            end_at="2026-03-01T08:00:00Z",
        ),
        "BAD_REQUEST",
    ),
    "create, unknown zone": (
        lambda t, w: t.create_item(
            w.owner.access_token, title="x", start_at="2026-03-01T09:00:00Z", timezone="Mars/Base"
        ),
        "BAD_USER_INPUT",
    ),
    "create, bad colour": (
        lambda t, w: t.create_item(
            w.owner.access_token,
            title="x",
            start_at="2026-03-01T09:00:00Z",
            metadata={"color": "red"},
        ),
        "BAD_USER_INPUT",
    ),
    "create, no token": (
        lambda t, _w: t.create_item(None, title="x", start_at="2026-03-01T09:00:00Z"),
        "UNAUTHENTICATED",
    ),
    "update by a stranger": (
        lambda t, w: t.update_item(w.stranger.access_token, w.item_id, title="mine"),
        "NOT_FOUND",
    ),
    "update by a view-only subscriber": (
        lambda t, w: t.update_item(w.viewer.access_token, w.item_id, title="mine"),
        "FORBIDDEN",
    ),
    "update, end before start after merge": (
        lambda t, w: t.update_item(w.owner.access_token, w.item_id, end_at="2026-03-01T08:00:00Z"),
        "BAD_REQUEST",
    ),
    "update by the owner": (
        lambda t, w: t.update_item(w.owner.access_token, w.item_id, status="completed"),
        _ok_item({"status": "completed", "title": "Standup", "permission": 7}),
    ),
    "update of an unknown item": (
        lambda t, w: t.update_item(w.owner.access_token, MISSING, title="x"),
        "NOT_FOUND",
    ),
    "update with a malformed id": (
        lambda t, w: t.update_item(w.owner.access_token, "not-a-uuid", title="x"),
        "NOT_FOUND",
    ),
    "delete by a subscriber": (
        lambda t, w: t.delete_item(w.viewer.access_token, w.item_id),
        "FORBIDDEN",
    ),
    "delete by a stranger": (
        lambda t, w: t.delete_item(w.stranger.access_token, w.item_id),
        "NOT_FOUND",
    ),
    "delete by the owner": (
        lambda t, w: t.delete_item(w.owner.access_token, w.item_id),
        lambda o: o.expect_ok(),
    ),
    # --- sharing ---
    "share with oneself": (
        lambda t, w: t.share_item(w.owner.access_token, w.item_id, email=w.owner.email),
        "BAD_REQUEST",
    ),
    "share with an unknown email": (
        lambda t, w: t.share_item(w.owner.access_token, w.item_id, email="nobody@example.com"),
        "NOT_FOUND",
    ),
    "share with a current subscriber": (
        lambda t, w: t.share_item(w.owner.access_token, w.item_id, email=w.viewer.email),
        "CONFLICT",
    ),
    "share by a view-only subscriber": (
        lambda t, w: t.share_item(w.viewer.access_token, w.item_id, email=w.friend.email),
        "FORBIDDEN",
    ),
    "share by a stranger": (
        lambda t, w: t.share_item(w.stranger.access_token, w.item_id, email=w.friend.email),
        "NOT_FOUND",
    ),
    "share by the owner": (
        lambda t, w: t.share_item(w.owner.access_token, w.item_id, email=w.friend.email),
        lambda o: o.expect_ok()["message"].startswith("Invitation sent to"),
    ),
    # --- friends ---
    "friend request to oneself": (
        lambda t, w: t.send_request(w.owner.access_token, w.owner.id),
        "BAD_REQUEST",
    ),
    "friend request to an unknown user": (
        lambda t, w: t.send_request(w.owner.access_token, MISSING),
        "NOT_FOUND",
    ),
    "friend request while one is pending (reverse direction)": (
        lambda t, w: t.send_request(w.friend.access_token, w.owner.id),
        "CONFLICT",
    ),
    "accept by someone else": (
        lambda t, w: t.answer_request(w.stranger.access_token, w.request_id, "accept"),
        "NOT_FOUND",
    ),
    "accept by the recipient": (
        lambda t, w: t.answer_request(w.friend.access_token, w.request_id, "accept"),
        _ok_item({"status": "accepted"}),
    ),
    "decline by the recipient": (
        lambda t, w: t.answer_request(w.friend.access_token, w.request_id, "decline"),
        _ok_item({"status": "declined"}),
    ),
    "cancel by the recipient": (
        lambda t, w: t.answer_request(w.friend.access_token, w.request_id, "cancel"),
        "NOT_FOUND",
    ),
    "remove a friendship that does not exist": (
        lambda t, w: t.remove_friend(w.owner.access_token, w.stranger.id),
        "NOT_FOUND",
    ),
    # --- inbox ---
    "accept an invitation, default bits": (
        lambda t, w: t.answer_message(w.stranger.access_token, w.invitation_id, "accept"),
        lambda o: o.expect_ok(),
    ),
    "accept someone else's invitation": (
        lambda t, w: t.answer_message(w.friend.access_token, w.invitation_id, "accept"),
        "NOT_FOUND",
    ),
    "accept a friend-request message": (
        lambda t, w: t.answer_message(w.friend.access_token, w.friend_message_id, "accept"),
        "BAD_REQUEST",
    ),
    "dismiss an invitation": (
        lambda t, w: t.answer_message(w.stranger.access_token, w.invitation_id, "dismiss"),
        lambda o: o.expect_ok(),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_rest_and_graphql_agree(api: Api, name: str) -> None:
    operation, expected = CASES[name]
    outcomes = []
    for kind in ("rest", "graphql"):
        world = await build_world(api)  # identical fresh state for each door
        outcome = await operation(CalendarTransport(api, kind), world)
        if isinstance(expected, str):
            outcome.expect(expected)
        else:
            expected(outcome)
        outcomes.append(outcome)
    rest, graphql = outcomes
    assert rest.ok == graphql.ok and rest.code == graphql.code, (rest, graphql)
