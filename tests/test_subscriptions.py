"""GraphQL subscriptions over real websockets (docs/contract.md §4 Subscription, §2 authentication):
the app runs on a loopback port inside the test's event loop and clients speak both
`graphql-transport-ws` and the legacy `graphql-ws`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from models import ScheduleSubscription
from resolvers.events import inbox_channel, item_channel
from tests.support.client import Account, Api
from tests.support.graphql_calls import gql_ok
from tests.support.live_server import (
    PROTOCOLS,
    GqlSocket,
    auth_payload,
    error_code,
    expect_error,
    gql_socket,
    listening,
    live_server,
)

USER = "{ id username }"
INBOX_SUBSCRIPTION = (
    "subscription { inboxMessages { id messageType status permission content "
    f"sender {USER} recipient {USER} scheduleItem {{ id title }} }} }}"
)
ITEM_SUBSCRIPTION = (
    "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind "
    f"item {{ id title startAt permission owner {USER} }} }} }}"
)
SEND_REQUEST = (
    "mutation($input: SendFriendRequestInput!) { sendFriendRequest(input: $input) { id } }"
)
CREATE = "mutation($input: CreateScheduleItemInput!) { createScheduleItem(input: $input) { id } }"
UPDATE = (
    "mutation($id: ID!, $input: UpdateScheduleItemInput!) "
    "{ updateScheduleItem(id: $id, input: $input) { id } }"
)
DELETE = "mutation($id: ID!) { deleteScheduleItem(id: $id) }"
SHARE = (
    "mutation($id: ID!, $input: ShareScheduleItemInput!) "
    "{ shareScheduleItem(id: $id, input: $input) { message } }"
)
ACCEPT = (
    "mutation($id: ID!, $input: AcceptInboxMessageInput) "
    "{ acceptInboxMessage(id: $id, input: $input) { id } }"
)
INBOX = "{ inboxMessages { id scheduleItem { id } } }"
SIGN_OUT = "mutation($t: String!) { signOut(refreshToken: $t) }"


@pytest.fixture
async def url(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield ws_url


async def create_item(api: Api, owner: Account, title: str = "Standup") -> str:
    values = {"title": title, "startAt": "2026-03-01T09:00:00Z"}
    return str((await gql_ok(api, CREATE, {"input": values}, owner))["id"])


async def share(api: Api, owner: Account, item_id: str, to: Account, bits: int = 1) -> None:
    grant = {
        "email": to.email,
        "permissionView": True,
        "permissionInvite": bool(bits & 2),
        "permissionEdit": bool(bits & 4),
    }
    await gql_ok(api, SHARE, {"id": item_id, "input": grant}, owner)


async def subscribe_to_item(
    api: Api, owner: Account, item_id: str, guest: Account, bits: int = 1
) -> None:
    await share(api, owner, item_id, guest, bits)
    (message,) = [
        m for m in await gql_ok(api, INBOX, {}, guest) if m["scheduleItem"]["id"] == item_id
    ]
    everything = {"permissionView": True, "permissionInvite": True, "permissionEdit": True}
    await gql_ok(api, ACCEPT, {"id": message["id"], "input": everything}, guest)


async def expect_next(socket: GqlSocket, op: str) -> Any:
    event = await socket.event(op)
    assert event.kind == "next" and not event.errors, event
    return next(iter(event.data.values()))


async def expect_complete(socket: GqlSocket, op: str, seconds: float = 2) -> None:
    event = await socket.event(op, seconds)
    assert event.kind == "complete", event


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_inbox_messages_arrive_as_they_are_created(
    api: Api, app: Any, url: str, protocol: str
) -> None:
    ann, bob, cat, eve = [await api.quick_user() for _ in range(4)]
    async with (  # the token as an Authorization header, and plainly
        gql_socket(url, protocol, auth_payload(ann.access_token, "header")) as anns,
        gql_socket(url, protocol, auth_payload(eve.access_token, "token")) as eves,
    ):
        ann_op = await anns.subscribe(INBOX_SUBSCRIPTION)
        eve_op = await eves.subscribe(INBOX_SUBSCRIPTION)
        await listening(app, inbox_channel(uuid.UUID(ann.id)))
        await listening(app, inbox_channel(uuid.UUID(eve.id)))

        await gql_ok(api, SEND_REQUEST, {"input": {"targetUserId": ann.id}}, bob)
        friend_request = await expect_next(anns, ann_op)

        item_id = await create_item(api, cat, "Offsite")
        await share(api, cat, item_id, ann, bits=3)
        invitation = await expect_next(anns, ann_op)

        await gql_ok(api, SEND_REQUEST, {"input": {"targetUserId": eve.id, "content": "hi"}}, cat)
        to_eve = await expect_next(eves, eve_op)  # her first: none of Ann's reached her

    assert friend_request["messageType"] == "FRIEND_REQUEST"
    assert friend_request["status"] == "PENDING"
    assert friend_request["sender"] == {"id": bob.id, "username": bob.username}
    assert friend_request["recipient"] == {"id": ann.id, "username": ann.username}
    assert friend_request["scheduleItem"] is None
    assert invitation["messageType"] == "CALENDAR" and invitation["permission"] == 3
    assert invitation["sender"]["id"] == cat.id
    assert invitation["scheduleItem"] == {"id": item_id, "title": "Offsite"}
    inbox = await gql_ok(api, INBOX, {}, ann)
    assert [m["id"] for m in inbox] == [invitation["id"], friend_request["id"]]
    assert to_eve["content"] == "hi" and to_eve["sender"]["id"] == cat.id


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_without_a_valid_token_are_unauthenticated(
    api: Api, url: str, protocol: str
) -> None:
    ann, gone = await api.quick_user(), await api.quick_user()
    item_id = await create_item(api, ann)
    signed_out = await api.gql(SIGN_OUT, {"t": gone.refresh_token}, gone.access_token)
    assert signed_out == {"data": {"signOut": True}}
    payloads: list[dict[str, Any] | None] = [
        None,
        {},
        {"token": "not-a-jwt"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Basic {ann.access_token}"},
        auth_payload(gone.access_token),  # a revoked session
    ]
    for payload in payloads:
        async with gql_socket(url, protocol, payload) as socket:
            op = await socket.subscribe(INBOX_SUBSCRIPTION)
            assert await expect_error(socket, op) == "UNAUTHENTICATED", payload
            op = await socket.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
            assert await expect_error(socket, op) == "UNAUTHENTICATED", payload


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_invalid_subscription_document_is_a_bad_request(
    api: Api, url: str, protocol: str
) -> None:
    ann = await api.quick_user()
    async with gql_socket(url, protocol, auth_payload(ann.access_token)) as socket:
        op = await socket.subscribe("subscription { inboxMessages { noSuchField } }")
        event = await socket.event(op)
        assert event.kind == "error" and error_code(event) == "BAD_REQUEST"
        op = await socket.subscribe(
            "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind } }", {}
        )
        event = await socket.event(op)
        assert event.kind == "error" and error_code(event) == "BAD_USER_INPUT"
        # the socket still works
        op = await socket.subscribe(ITEM_SUBSCRIPTION, {"id": str(uuid.uuid4())})
        assert await expect_error(socket, op) == "NOT_FOUND"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_schedule_item_changed_streams_updates_then_the_deletion(
    api: Api, app: Any, url: str, protocol: str
) -> None:
    owner, viewer = await api.quick_user(), await api.quick_user()
    item_id = await create_item(api, owner)
    await subscribe_to_item(api, owner, item_id, viewer, bits=1)
    channel = item_channel(uuid.UUID(item_id))

    async with (
        gql_socket(url, protocol, auth_payload(owner.access_token)) as owners,
        gql_socket(url, protocol, auth_payload(viewer.access_token, "token")) as viewers,
    ):
        owner_op = await owners.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
        viewer_op = await viewers.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
        await listening(app, channel, count=2)

        change = {"title": "Retro", "startAt": "2026-03-01T10:00:00"}
        await gql_ok(api, UPDATE, {"id": item_id, "input": change}, owner)
        seen_by_owner = await expect_next(owners, owner_op)
        seen_by_viewer = await expect_next(viewers, viewer_op)

        await gql_ok(api, DELETE, {"id": item_id}, owner)
        deleted_for_owner = await expect_next(owners, owner_op)
        deleted_for_viewer = await expect_next(viewers, viewer_op)
        await expect_complete(owners, owner_op)
        await expect_complete(viewers, viewer_op)
        await listening(app, channel, count=0)  # the streams let go of the event bus

    for change_seen, permission in ((seen_by_owner, 7), (seen_by_viewer, 1)):
        assert change_seen["kind"] == "UPDATED"
        assert change_seen["item"] == {
            "id": item_id,
            "title": "Retro",
            "startAt": "2026-03-01T10:00:00+00:00",
            "permission": permission,
            "owner": {"id": owner.id, "username": owner.username},
        }
    for deletion in (deleted_for_owner, deleted_for_viewer):
        assert deletion["kind"] == "DELETED"
        assert deletion["item"]["id"] == item_id and deletion["item"]["title"] == "Retro"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_schedule_item_changed_is_not_found_for_items_one_cannot_see(
    api: Api, url: str, protocol: str
) -> None:
    owner, stranger, invitee = [await api.quick_user() for _ in range(3)]
    item_id = await create_item(api, owner)
    await share(api, owner, item_id, invitee)  # pending: no access yet
    deleted_id = await create_item(api, owner)
    await gql_ok(api, DELETE, {"id": deleted_id}, owner)

    cases = [(stranger, item_id), (invitee, item_id), (owner, deleted_id)]
    cases += [(owner, str(uuid.uuid4())), (owner, "not-an-id")]
    for who, target in cases:
        async with gql_socket(url, protocol, auth_payload(who.access_token)) as socket:
            op = await socket.subscribe(ITEM_SUBSCRIPTION, {"id": target})
            assert await expect_error(socket, op) == "NOT_FOUND", (who.username, target)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_subscriber_whose_access_ends_hears_nothing_more(
    api: Api, app: Any, url: str, protocol: str
) -> None:
    owner, guest = await api.quick_user(), await api.quick_user()
    item_id = await create_item(api, owner)
    await subscribe_to_item(api, owner, item_id, guest, bits=1)

    async with (
        gql_socket(url, protocol, auth_payload(owner.access_token)) as owners,
        gql_socket(url, protocol, auth_payload(guest.access_token)) as guests,
    ):
        owner_op = await owners.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
        guest_op = await guests.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
        await listening(app, item_channel(uuid.UUID(item_id)), count=2)

        # (the first change also tells that the guest's stream is past its access check)
        await gql_ok(api, UPDATE, {"id": item_id, "input": {"title": "first"}}, owner)
        assert (await expect_next(guests, guest_op))["item"]["title"] == "first"
        assert (await expect_next(owners, owner_op))["item"]["title"] == "first"

        await ScheduleSubscription.filter(item_id=item_id, user_id=guest.id).delete()
        await gql_ok(api, UPDATE, {"id": item_id, "input": {"title": "secret"}}, owner)

        await expect_complete(guests, guest_op)  # ends, without the new state
        assert (await expect_next(owners, owner_op))["item"]["title"] == "secret"
        await gql_ok(api, UPDATE, {"id": item_id, "input": {"title": "more"}}, owner)
        assert (await expect_next(owners, owner_op))["item"]["title"] == "more"
        assert await guests.silent(guest_op, 0.3)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_former_subscriber_does_not_hear_of_the_deletion(
    api: Api, app: Any, url: str, protocol: str
) -> None:
    owner, guest = await api.quick_user(), await api.quick_user()
    item_id = await create_item(api, owner)
    await subscribe_to_item(api, owner, item_id, guest, bits=1)

    async with (
        gql_socket(url, protocol, auth_payload(owner.access_token)) as owners,
        gql_socket(url, protocol, auth_payload(guest.access_token)) as guests,
    ):
        owner_op = await owners.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
        guest_op = await guests.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
        await listening(app, item_channel(uuid.UUID(item_id)), count=2)
        # A stream checks access right after it starts listening: one change heard by both
        # tells that the guest's stream is past that check before the access ends.
        await gql_ok(api, UPDATE, {"id": item_id, "input": {"title": "first"}}, owner)
        assert (await expect_next(guests, guest_op))["item"]["title"] == "first"
        assert (await expect_next(owners, owner_op))["item"]["title"] == "first"

        await ScheduleSubscription.filter(item_id=item_id, user_id=guest.id).delete()
        await gql_ok(api, DELETE, {"id": item_id}, owner)

        assert (await expect_next(owners, owner_op))["kind"] == "DELETED"
        await expect_complete(owners, owner_op)
        await expect_complete(guests, guest_op)  # no DELETED for someone without access


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stopping_a_subscription_releases_it(
    api: Api, app: Any, url: str, protocol: str
) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    channel = inbox_channel(uuid.UUID(ann.id))
    async with gql_socket(url, protocol, auth_payload(ann.access_token)) as socket:
        first = await socket.subscribe(INBOX_SUBSCRIPTION)
        second = await socket.subscribe(INBOX_SUBSCRIPTION)
        await listening(app, channel, count=2)

        await socket.stop(first)
        await listening(app, channel, count=1)
        await gql_ok(api, SEND_REQUEST, {"input": {"targetUserId": ann.id}}, bob)

        assert (await expect_next(socket, second))["sender"]["id"] == bob.id
        await listening(app, channel, count=1)
    await listening(app, channel, count=0)  # closing the socket ends the other one


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_signing_out_ends_the_sockets_streams(
    api: Api, app: Any, url: str, protocol: str
) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    async with gql_socket(url, protocol, auth_payload(ann.access_token)) as anns:
        op = await anns.subscribe(INBOX_SUBSCRIPTION)
        await listening(app, inbox_channel(uuid.UUID(ann.id)))
        await gql_ok(api, SEND_REQUEST, {"input": {"targetUserId": ann.id}}, bob)
        await expect_next(anns, op)

        signed_out = await api.rest(
            "DELETE", "/auth/sessions", json={"refresh_token": ann.refresh_token}
        )
        assert signed_out.status_code == 204
        item_id = await create_item(api, bob, "After sign-out")
        await share(api, bob, item_id, ann, bits=1)
        await expect_complete(anns, op)  # ends without delivering the new invitation
