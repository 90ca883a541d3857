"""docs/contract.md §6 "Managing shares": `/schedule-items/{id}/subscribers` on REST, and
`updateScheduleSubscriber` / `removeScheduleSubscriber` / `ScheduleItem.subscribers` on GraphQL.
The live part runs gql, the stock client, against the real server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from models import ScheduleSubscription
from resolvers.events import item_channel
from tests.support.calendar_api import create_item, ok, problem, share, subscribe
from tests.support.client import Account, Api, gql_code
from tests.support.gql_clients import gql_http_session, gql_ws_session, run, subscription
from tests.support.live_server import PROTOCOLS, listening, live_server

ITEM_SUBSCRIPTION = (
    "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind item { id permission } } }"
)
UPDATE_SUBSCRIBER = (
    "mutation($item: ID!, $user: ID!, $input: UpdateScheduleSubscriberInput!) "
    "{ updateScheduleSubscriber(itemId: $item, userId: $user, input: $input) "
    "{ user { id username } permission subscribedAt } }"
)
REMOVE_SUBSCRIBER = (
    "mutation($item: ID!, $user: ID!) { removeScheduleSubscriber(itemId: $item, userId: $user) }"
)
SUBSCRIBERS = "query($id: ID!) { scheduleItem(id: $id) { subscribers { user { id } permission } } }"
UPDATE_ITEM = (
    "mutation($id: ID!, $input: UpdateScheduleItemInput!) "
    "{ updateScheduleItem(id: $id, input: $input) { id } }"
)


@pytest.fixture
async def item(api: Api, alice: Account) -> str:
    return str((await create_item(api, alice, title="Planning"))["id"])


def subscribers_url(item_id: str, user_id: str | None = None) -> str:
    base = f"/schedule-items/{item_id}/subscribers"
    return base if user_id is None else f"{base}/{user_id}"


async def listed(api: Api, who: Account, item_id: str) -> list[tuple[str, int]]:
    body = ok(await api.rest("GET", subscribers_url(item_id), who.access_token))
    return [(s["user_id"], s["permission"]) for s in body]


async def patch_bits(
    api: Api, who: Account, item_id: str, user_id: str, **bits: bool
) -> httpx.Response:
    return await api.rest("PATCH", subscribers_url(item_id, user_id), who.access_token, json=bits)


async def remove(api: Api, who: Account, item_id: str, user_id: str) -> httpx.Response:
    return await api.rest("DELETE", subscribers_url(item_id, user_id), who.access_token)


async def item_ids(api: Api, who: Account) -> list[str]:
    return [i["id"] for i in ok(await api.rest("GET", "/schedule-items", who.access_token))]


# --- listing --------------------------------------------------------------------------------------


async def test_the_owner_lists_subscribers_with_their_bits_oldest_first(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True)
    await subscribe(api, alice, carol, item, invite=True)
    body = ok(await api.rest("GET", subscribers_url(item), alice.access_token))
    assert [(s["user_id"], s["username"], s["permission"]) for s in body] == [
        (bob.id, bob.username, 5),
        (carol.id, carol.username, 3),
    ]
    assert set(body[0]) == {"user_id", "username", "avatar_url", "permission", "subscribed_at"}
    assert "email" not in str(body)  # a user's email is shown to nobody else


async def test_an_editor_may_list_but_a_viewer_or_inviter_is_403_and_a_stranger_404(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True)
    await subscribe(api, alice, carol, item, invite=True)
    assert await listed(api, bob, item) == [(bob.id, 5), (carol.id, 3)]
    problem(await api.rest("GET", subscribers_url(item), carol.access_token), 403)
    dave = await api.quick_user()
    problem(await api.rest("GET", subscribers_url(item), dave.access_token), 404)
    problem(await api.rest("GET", subscribers_url("not-a-uuid"), alice.access_token), 404)


async def test_graphql_subscribers_follow_the_same_rule(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True)
    await subscribe(api, alice, carol, item)

    async def seen_by(who: Account) -> list[tuple[str, int]]:
        body = await api.gql(SUBSCRIBERS, {"id": item}, who.access_token)
        assert "errors" not in body, body
        return [
            (s["user"]["id"], s["permission"]) for s in body["data"]["scheduleItem"]["subscribers"]
        ]

    everyone = [(bob.id, 5), (carol.id, 1)]
    assert await seen_by(alice) == everyone
    assert await seen_by(bob) == everyone
    assert await seen_by(carol) == [(carol.id, 1)]  # a plain viewer sees only their own share


# --- setting bits ---------------------------------------------------------------------------------


async def test_the_owner_sets_bits_directly_and_absent_fields_are_kept(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, invite=True)  # 3
    body = ok(await patch_bits(api, alice, item, bob.id, permission_edit=True))
    assert body["user_id"] == bob.id and body["permission"] == 7
    body = ok(await patch_bits(api, alice, item, bob.id, permission_invite=False))
    assert body["permission"] == 5
    row = await ScheduleSubscription.get(item_id=item, user_id=bob.id)
    assert row.permission == 5
    items = ok(await api.rest("GET", "/schedule-items", bob.access_token))
    assert [(i["id"], i["permission"]) for i in items] == [(item, 5)]
    # Bob may now edit the item, and may not invite.
    ok(await api.rest("PATCH", f"/schedule-items/{item}", bob.access_token, json={"title": "X"}))
    problem(await share(api, bob, item, "anyone@example.com"), 403)


async def test_view_stays_on(api: Api, alice: Account, bob: Account, item: str) -> None:
    await subscribe(api, alice, bob, item)
    detail = problem(await patch_bits(api, alice, item, bob.id, permission_view=False), 422)
    assert "permission_view" in str(detail)
    assert (await ScheduleSubscription.get(item_id=item, user_id=bob.id)).permission == 1


async def test_only_the_owner_sets_bits(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True, invite=True)
    await subscribe(api, alice, carol, item)
    problem(await patch_bits(api, bob, item, carol.id, permission_edit=True), 403)
    problem(await patch_bits(api, bob, item, bob.id, permission_edit=False), 403)
    dave = await api.quick_user()
    problem(await patch_bits(api, dave, item, carol.id, permission_edit=True), 404)
    assert (await ScheduleSubscription.get(item_id=item, user_id=carol.id)).permission == 1


async def test_setting_bits_of_someone_who_is_not_a_subscriber_is_404(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    problem(await patch_bits(api, alice, item, bob.id, permission_edit=True), 404)
    problem(await patch_bits(api, alice, item, alice.id, permission_edit=True), 404)
    problem(await patch_bits(api, alice, item, str(uuid.uuid4()), permission_edit=True), 404)
    problem(await patch_bits(api, alice, item, "nobody", permission_edit=True), 404)
    # A pending invitation is not a share yet.
    ok(await share(api, alice, item, bob.email))
    problem(await patch_bits(api, alice, item, bob.id, permission_edit=True), 404)
    assert not await ScheduleSubscription.exists()


async def test_a_bad_body_is_422(api: Api, alice: Account, bob: Account, item: str) -> None:
    await subscribe(api, alice, bob, item)
    r = await api.rest(
        "PATCH", subscribers_url(item, bob.id), alice.access_token, json={"permission_edit": "x"}
    )
    problem(r, 422)


# --- revoking and leaving -------------------------------------------------------------------------


async def test_the_owner_revokes_and_the_item_leaves_the_subscribers_lists(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True)
    assert await item_ids(api, bob) == [item]
    ok(await remove(api, alice, item, bob.id), 204)
    assert await item_ids(api, bob) == []
    problem(await api.rest("GET", f"/schedule-items/{item}", bob.access_token), 404)
    problem(await api.rest("PATCH", f"/schedule-items/{item}", bob.access_token, json={}), 404)
    assert not await ScheduleSubscription.exists()
    problem(await remove(api, alice, item, bob.id), 404)  # not a subscriber any more
    # The owner may share again, and a new invitation is made.
    await subscribe(api, alice, bob, item)
    assert await listed(api, alice, item) == [(bob.id, 1)]


async def test_a_subscriber_leaves_but_may_not_remove_others(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item, edit=True, invite=True)
    await subscribe(api, alice, carol, item)
    problem(await remove(api, bob, item, carol.id), 403)
    problem(await remove(api, carol, item, bob.id), 403)
    ok(await remove(api, carol, item, carol.id), 204)
    assert await item_ids(api, carol) == []
    assert await listed(api, alice, item) == [(bob.id, 7)]
    problem(await remove(api, carol, item, carol.id), 404)  # no longer sees the item


async def test_the_owner_cannot_leave_and_a_stranger_is_404(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item)
    problem(await remove(api, alice, item, alice.id), 400)
    dave = await api.quick_user()
    problem(await remove(api, dave, item, bob.id), 404)
    problem(await remove(api, dave, item, dave.id), 404)
    assert await ScheduleSubscription.filter(item_id=item).count() == 1


async def test_a_deleted_item_has_no_subscribers_to_manage(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item)
    ok(await api.rest("DELETE", f"/schedule-items/{item}", alice.access_token), 204)
    problem(await api.rest("GET", subscribers_url(item), alice.access_token), 404)
    problem(await patch_bits(api, alice, item, bob.id, permission_edit=True), 404)
    problem(await remove(api, bob, item, bob.id), 404)


async def test_resharing_with_a_current_subscriber_is_409_naming_the_patch_route(
    api: Api, alice: Account, bob: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item)
    detail = problem(await share(api, alice, item, bob.email, permission_edit=True), 409)
    assert f"PATCH /api/v1/schedule-items/{item}/subscribers/{bob.id}" in detail["detail"]
    assert (await ScheduleSubscription.get(item_id=item, user_id=bob.id)).permission == 1


# --- GraphQL --------------------------------------------------------------------------------------


async def test_graphql_sets_bits_and_removes(
    api: Api, alice: Account, bob: Account, carol: Account, item: str
) -> None:
    await subscribe(api, alice, bob, item)
    variables = {"item": item, "user": bob.id, "input": {"permissionEdit": True}}
    body = await api.gql(UPDATE_SUBSCRIBER, variables, alice.access_token)
    assert "errors" not in body, body
    changed = body["data"]["updateScheduleSubscriber"]
    assert changed["user"] == {"id": bob.id, "username": bob.username}
    assert changed["permission"] == 5 and changed["subscribedAt"]

    body = await api.gql(UPDATE_SUBSCRIBER, variables, bob.access_token)
    assert gql_code(body) == "FORBIDDEN"
    no_view = {**variables, "input": {"permissionView": False}}
    assert gql_code(await api.gql(UPDATE_SUBSCRIBER, no_view, alice.access_token)) == (
        "BAD_USER_INPUT"
    )
    stranger = {**variables, "user": carol.id}
    assert gql_code(await api.gql(UPDATE_SUBSCRIBER, stranger, alice.access_token)) == "NOT_FOUND"

    removal = {"item": item, "user": bob.id}
    assert gql_code(await api.gql(REMOVE_SUBSCRIBER, removal, carol.access_token)) == "NOT_FOUND"
    body = await api.gql(REMOVE_SUBSCRIBER, removal, alice.access_token)
    assert body == {"data": {"removeScheduleSubscriber": True}}
    assert not await ScheduleSubscription.exists()
    again = await api.gql(REMOVE_SUBSCRIBER, removal, alice.access_token)
    assert gql_code(again) == "NOT_FOUND"


# --- live streams ---------------------------------------------------------------------------------


@pytest.fixture
async def url(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield ws_url


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_revoked_subscribers_live_stream_ends_and_others_hear_nothing(
    api: Api, app: Any, url: str, alice: Account, bob: Account, carol: Account, protocol: str
) -> None:
    item = str((await create_item(api, alice))["id"])
    await subscribe(api, alice, bob, item)
    await subscribe(api, alice, carol, item)
    async with (
        gql_ws_session(url, protocol, alice.access_token) as alices,
        gql_ws_session(url, protocol, bob.access_token) as bobs,
        gql_ws_session(url, protocol, carol.access_token) as carols,
        subscription(alices, ITEM_SUBSCRIPTION, {"id": item}) as owner_stream,
        subscription(bobs, ITEM_SUBSCRIPTION, {"id": item}) as bob_stream,
        subscription(carols, ITEM_SUBSCRIPTION, {"id": item}) as carol_stream,
    ):
        await listening(app, item_channel(uuid.UUID(item)), count=3)
        ok(await patch_bits(api, alice, item, carol.id, permission_edit=True))
        # Carol hears the item again with her new bits; nobody else hears of it.
        assert (await carol_stream.next())["scheduleItemChanged"] == {
            "kind": "UPDATED",
            "item": {"id": item, "permission": 5},
        }
        ok(await remove(api, alice, item, bob.id), 204)
        await bob_stream.ends()  # gql's iterator finishes: the server completed the operation
        assert await owner_stream.silent(0.3)
        assert await carol_stream.silent(0.1)
        # Later changes reach those who still hold the item.
        http = url.replace("ws://", "http://", 1)
        async with gql_http_session(http, alice.access_token) as owner:
            await run(owner, UPDATE_ITEM, {"id": item, "input": {"title": "Retro"}})
        assert (await owner_stream.next())["scheduleItemChanged"]["kind"] == "UPDATED"
        assert (await carol_stream.next())["scheduleItemChanged"]["item"]["permission"] == 5


@pytest.mark.parametrize("protocol", PROTOCOLS[:1])
async def test_a_subscriber_who_leaves_has_their_stream_ended(
    api: Api, app: Any, url: str, alice: Account, bob: Account, protocol: str
) -> None:
    item = str((await create_item(api, alice))["id"])
    await subscribe(api, alice, bob, item)
    async with (
        gql_ws_session(url, protocol, bob.access_token) as bobs,
        subscription(bobs, ITEM_SUBSCRIPTION, {"id": item}) as bob_stream,
    ):
        await listening(app, item_channel(uuid.UUID(item)))
        ok(await remove(api, bob, item, bob.id), 204)
        await bob_stream.ends()
