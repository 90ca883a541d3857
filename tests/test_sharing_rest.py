"""docs/contract.md §3 Schedule items: `POST /schedule-items/{id}/share` — who may share, which
bits, and the invitation it leaves in the recipient's inbox."""

from __future__ import annotations

import uuid

import pytest

from models import InboxMessage, ScheduleSubscription
from tests.support.calendar_api import (
    create_item,
    inbox,
    ok,
    pending_invitation,
    problem,
    share,
    subscribe,
)
from tests.support.client import Account, Api


@pytest.fixture
async def item(api: Api, alice: Account) -> str:
    return str((await create_item(api, alice, title="Planning"))["id"])


async def test_the_owner_shares_and_the_recipient_gets_a_pending_invitation(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    r = await share(api, alice, item, bob.email, permission_edit=True)
    assert ok(r) == {"message": f"Invitation sent to {bob.email}"}
    messages = await inbox(api, bob)
    assert len(messages) == 1
    message = messages[0]
    assert message["message_type"] == "calendar" and message["status"] == "pending"
    assert message["schedule_item_id"] == item and message["is_read"] is False
    assert message["sender_id"] == alice.id and message["recipient_id"] == bob.id
    assert message["permission"] == 1 | 4 and message["friend_request_id"] is None
    assert "Planning" in message["content"]
    # Sharing alone subscribes nobody.
    assert not await ScheduleSubscription.exists()
    assert await inbox(api, alice) == []


async def test_the_default_share_grants_view_only(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    ok(await share(api, alice, item, bob.email))
    assert (await pending_invitation(api, bob, item))["permission"] == 1


async def test_the_email_is_matched_case_insensitively(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    ok(await share(api, alice, item, "  BOB@Example.COM "))
    await pending_invitation(api, bob, item)


async def test_an_unknown_email_or_item_is_404(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    problem(await share(api, alice, item, "nobody@example.com"), 404)
    problem(await share(api, alice, str(uuid.uuid4()), bob.email), 404)
    problem(await share(api, alice, "not-a-uuid", bob.email), 404)
    assert not await InboxMessage.exists()


async def test_an_item_the_caller_cannot_see_is_404(
    api: Api, bob: Account, carol: Account, item: str
) -> None:
    problem(await share(api, bob, item, carol.email), 404)
    # An invitation not yet accepted gives no access either.
    assert not await InboxMessage.exists()


async def test_sharing_with_oneself_is_400(api: Api, alice: Account, item: str) -> None:
    problem(await share(api, alice, item, alice.email), 400)


async def test_sharing_with_a_current_subscriber_or_the_owner_is_409(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, invite=True)
    problem(await share(api, alice, item, bob.email), 409)
    problem(await share(api, bob, item, alice.email), 409)  # the owner already has it
    assert await ScheduleSubscription.filter(item_id=item).count() == 1
    assert await InboxMessage.filter(schedule_item_id=item, status="pending").count() == 0


async def test_a_second_invitation_replaces_the_pending_one(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    ok(await share(api, alice, item, bob.email))
    first = await pending_invitation(api, bob, item)
    ok(await share(api, alice, item, bob.email, permission_edit=True, permission_invite=True))
    second = await pending_invitation(api, bob, item)
    assert second["permission"] == 7
    assert await InboxMessage.filter(schedule_item_id=item, recipient_id=bob.id).count() == 1
    assert second["id"] == first["id"]


async def test_after_a_dismissal_a_new_invitation_is_a_new_message(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    ok(await share(api, alice, item, bob.email))
    first = await pending_invitation(api, bob, item)
    ok(await api.rest("POST", f"/inbox/messages/{first['id']}/dismiss", bob.access_token), 204)
    ok(await share(api, alice, item, bob.email, permission_edit=True))
    second = await pending_invitation(api, bob, item)
    assert second["id"] != first["id"] and second["permission"] == 5
    assert [m["status"] for m in await inbox(api, bob)] == ["pending", "dismissed"]


async def test_a_subscriber_with_invite_may_share_at_most_their_bits(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, invite=True)  # view + invite = 3
    problem(await share(api, bob, item, carol.email, permission_edit=True), 403)
    assert not await InboxMessage.filter(recipient_id=carol.id).exists()
    ok(await share(api, bob, item, carol.email, permission_invite=True))
    message = await pending_invitation(api, carol, item)
    assert message["permission"] == 3 and message["sender_id"] == bob.id


async def test_a_subscriber_with_every_bit_may_grant_every_bit(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True, invite=True)
    ok(await share(api, bob, item, carol.email, permission_edit=True, permission_invite=True))
    assert (await pending_invitation(api, carol, item))["permission"] == 7


@pytest.mark.parametrize("edit", [False, True])
async def test_a_subscriber_without_invite_is_403(
    api: Api, alice: Account, bob: Account, carol: Account, item: str, edit: bool
) -> None:
    await subscribe(api, alice, bob, item, edit=edit)
    problem(await share(api, bob, item, carol.email), 403)
    assert not await InboxMessage.filter(recipient_id=carol.id).exists()


async def test_a_share_without_view_is_422(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    problem(await share(api, alice, item, bob.email, permission_view=False), 422)


@pytest.mark.parametrize(
    "body", [{}, {"email": ""}, {"email": "bob@example.com", "permission_edit": "maybe"}]
)
async def test_an_invalid_body_is_422(
    api: Api, alice: Account, item: str, body: dict[str, object]
) -> None:
    r = await api.rest("POST", f"/schedule-items/{item}/share", alice.access_token, json=body)
    problem(r, 422)


async def test_accepting_the_share_lists_the_item_for_the_subscriber(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True)
    items = ok(await api.rest("GET", "/schedule-items", bob.access_token))
    assert [(i["id"], i["permission"]) for i in items] == [(item, 5)]
    rows = await ScheduleSubscription.filter(item_id=item)
    assert [(str(r.user_id), r.permission) for r in rows] == [(bob.id, 5)]
