"""docs/contract.md §3 Schedule items over REST: create, range query, get, update, soft delete, and
who may do which."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import InboxMessage, ScheduleItem
from tests.support.calendar_api import (
    create_item,
    instant,
    ok,
    pending_invitation,
    problem,
    share,
    subscribe,
)
from tests.support.client import Account, Api

ITEM_KEYS = {
    "id",
    "title",
    "description",
    "start_at",
    "end_at",
    "timezone",
    "metadata",
    "status",
    "source_type",
    "created_at",
    "updated_at",
    "owner_id",
    "permission",
    # Recurring and all-day items (tests/test_recurrence_rest.py)
    "all_day",
    "start_date",
    "end_date",
    "recurrence",
    "exdates",
    "occurrence_start_at",
    "occurrence_end_at",
    "original_start_at",
}


def utc(value: str) -> datetime:
    return instant(value).astimezone(UTC)


async def titles(api: Api, account: Account, **params: str) -> list[str]:
    items = ok(await api.rest("GET", "/schedule-items", account.access_token, params=params))
    return [i["title"] for i in items]


# --- create --------------------------------------------------------------------------------------


async def test_create_answers_201_with_the_full_item(api: Api, alice: Account) -> None:
    metadata = {
        "color": "#FF6B6B",
        "location": "会议室A",
        "notes": "记得带身份证",
        "attachments": [],
        "version": 1,
    }
    body = {
        "title": "Standup",
        "description": "daily",
        "start_at": "2026-03-01T09:00:00+00:00",
        "end_at": "2026-03-01T09:15:00+00:00",
        "metadata": metadata,
    }
    item = ok(await api.rest("POST", "/schedule-items", alice.access_token, json=body), 201)
    assert set(item) == ITEM_KEYS
    assert item["title"] == "Standup" and item["description"] == "daily"
    assert item["timezone"] == "UTC" and item["metadata"] == metadata
    assert item["status"] == "active" and item["source_type"] == "manual"
    assert item["permission"] == 7 and item["owner_id"] == alice.id
    assert utc(item["start_at"]) == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert utc(item["end_at"]) == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
    assert instant(item["created_at"]) and instant(item["updated_at"])
    row = await ScheduleItem.get(id=item["id"])
    assert str(row.owner_id) == alice.id and row.deleted_at is None
    assert ok(await api.rest("GET", f"/schedule-items/{item['id']}", alice.access_token)) == item


async def test_defaults_of_an_item_without_optional_fields(api: Api, alice: Account) -> None:
    item = await create_item(api, alice, title="Bare")
    assert item["description"] is None and item["end_at"] is None
    assert item["metadata"] == {} and item["timezone"] == "UTC"


async def test_naive_datetimes_are_read_in_the_items_timezone(api: Api, alice: Account) -> None:
    item = await create_item(
        api,
        alice,
        start_at="2026-03-01T09:00",
        end_at="2026-03-01T10:30:00",
        timezone="Asia/Shanghai",
    )
    assert item["timezone"] == "Asia/Shanghai"
    assert utc(item["start_at"]) == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert utc(item["end_at"]) == datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    # Returned in UTC, with an explicit offset.
    assert instant(item["start_at"]).utcoffset() == timedelta(0)
    row = await ScheduleItem.get(id=item["id"])
    assert row.start_at == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


async def test_an_explicit_offset_wins_over_the_timezone(api: Api, alice: Account) -> None:
    item = await create_item(
        api, alice, start_at="2026-03-01T09:00:00-05:00", timezone="Asia/Shanghai"
    )
    assert utc(item["start_at"]) == datetime(2026, 3, 1, 14, 0, tzinfo=UTC)


async def test_naive_datetimes_follow_daylight_saving(api: Api, alice: Account) -> None:
    winter = await create_item(api, alice, start_at="2026-01-15T12:00", timezone="Europe/Berlin")
    summer = await create_item(api, alice, start_at="2026-07-15T12:00", timezone="Europe/Berlin")
    assert utc(winter["start_at"]).hour == 11 and utc(summer["start_at"]).hour == 10


@pytest.mark.parametrize("zone", ["Mars/Olympus", "UTC+8", "", "../etc/passwd"])
async def test_an_unknown_timezone_is_422(api: Api, alice: Account, zone: str) -> None:
    body = {"title": "x", "start_at": "2026-03-01T09:00", "timezone": zone}
    r = await api.rest("POST", "/schedule-items", alice.access_token, json=body)
    errors = problem(r, 422)["errors"]
    assert any(e["loc"][-1] == "timezone" for e in errors), errors
    assert not await ScheduleItem.exists()


async def test_end_before_start_is_400(api: Api, alice: Account) -> None:
    body = {"title": "x", "start_at": "2026-03-01T09:00Z", "end_at": "2026-03-01T08:59Z"}
    problem(await api.rest("POST", "/schedule-items", alice.access_token, json=body), 400)
    # Equal bounds are allowed; so is an end that is later only once both are in UTC.
    await create_item(api, alice, start_at="2026-03-01T09:00Z", end_at="2026-03-01T09:00Z")
    await create_item(
        api, alice, start_at="2026-03-01T09:00+08:00", end_at="2026-03-01T02:00+00:00"
    )
    assert await ScheduleItem.all().count() == 2


async def test_metadata_over_16_kib_is_422(api: Api, alice: Account) -> None:
    big = {"notes": "x" * (16 * 1024)}
    body = {"title": "x", "start_at": "2026-03-01T09:00Z", "metadata": big}
    errors = problem(await api.rest("POST", "/schedule-items", alice.access_token, json=body), 422)
    assert any("metadata" in e["loc"] for e in errors["errors"])
    # Just under the limit is fine.
    fits = {"notes": "x" * (16 * 1024 - 20)}
    await create_item(api, alice, metadata=fits)


@pytest.mark.parametrize("color", ["red", "#FFF", "#GGGGGG", "FF6B6B", "#FF6B6B0", 16711680])
async def test_a_color_not_rrggbb_is_422(api: Api, alice: Account, color: object) -> None:
    body = {"title": "x", "start_at": "2026-03-01T09:00Z", "metadata": {"color": color}}
    problem(await api.rest("POST", "/schedule-items", alice.access_token, json=body), 422)


@pytest.mark.parametrize(
    "body",
    [
        {"start_at": "2026-03-01T09:00Z"},
        {"title": "", "start_at": "2026-03-01T09:00Z"},
        {"title": "x" * 256, "start_at": "2026-03-01T09:00Z"},
        {"title": "x", "start_at": "2026-03-01T09:00Z", "description": "d" * 2001},
        {"title": "x"},
        {"title": "x", "start_at": "tomorrow"},
        {"title": "x", "start_at": "2026-03-01T09:00Z", "metadata": ["not", "an", "object"]},
    ],
)
async def test_invalid_bodies_are_422(api: Api, alice: Account, body: dict[str, Any]) -> None:
    problem(await api.rest("POST", "/schedule-items", alice.access_token, json=body), 422)


async def test_source_type_is_manual_whatever_the_body_says(api: Api, alice: Account) -> None:
    item = await create_item(api, alice, source_type="agent", status="cancelled")
    assert item["source_type"] == "manual" and item["status"] == "active"


async def test_routes_need_authentication(api: Api) -> None:
    some_id = str(uuid.uuid4())
    for method, path in (
        ("POST", "/schedule-items"),
        ("GET", "/schedule-items"),
        ("GET", f"/schedule-items/{some_id}"),
        ("PATCH", f"/schedule-items/{some_id}"),
        ("DELETE", f"/schedule-items/{some_id}"),
        ("POST", f"/schedule-items/{some_id}/share"),
    ):
        problem(await api.rest(method, path, json={}), 401)


# --- range query --------------------------------------------------------------------------------


@pytest.fixture
async def week(api: Api, alice: Account) -> None:
    """Items of 2026-03-01..03 (UTC)."""
    for title, start, end in (
        ("late", "2026-03-03T10:00Z", None),
        ("overnight", "2026-02-28T22:00Z", "2026-03-01T02:00Z"),
        ("morning", "2026-03-01T09:00Z", "2026-03-01T10:00Z"),
        ("instant", "2026-03-02T00:00Z", None),
        ("long", "2026-02-20T00:00Z", "2026-03-10T00:00Z"),
        ("ended-at-midnight", "2026-02-28T20:00Z", "2026-03-01T00:00Z"),
    ):
        await create_item(api, alice, title=title, start_at=start, end_at=end)


@pytest.mark.usefixtures("week")
async def test_without_bounds_every_item_by_start(api: Api, alice: Account) -> None:
    assert await titles(api, alice) == [
        "long",
        "ended-at-midnight",
        "overnight",
        "morning",
        "instant",
        "late",
    ]


@pytest.mark.usefixtures("week")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # A date alone: start_at is that day's start, end_at the next day's start (exclusive).
        (
            {"start_at": "2026-03-01", "end_at": "2026-03-01"},
            ["long", "overnight", "morning"],
        ),
        ({"start_at": "2026-03-02", "end_at": "2026-03-02"}, ["long", "instant"]),
        ({"start_at": "2026-03-03"}, ["long", "late"]),
        (
            {"end_at": "2026-02-28"},
            ["long", "ended-at-midnight", "overnight"],
        ),
        # Datetimes are points: an item overlaps [start, end) when it starts before end and
        # ends after start (or, without end_at, starts inside).
        ({"start_at": "2026-03-01T09:30Z", "end_at": "2026-03-01T09:45Z"}, ["long", "morning"]),
        ({"start_at": "2026-03-01T10:00Z", "end_at": "2026-03-02T00:00Z"}, ["long"]),
        ({"start_at": "2026-03-01T10:00Z", "end_at": "2026-03-02T00:00:01Z"}, ["long", "instant"]),
        # A datetime at midnight is a point, not a whole day.
        ({"start_at": "2026-03-02T00:00", "end_at": "2026-03-02T00:00"}, ["long"]),
        # Offsets are honoured; a naive bound is UTC.
        (
            {"start_at": "2026-03-01T17:00+08:00", "end_at": "2026-03-01T18:00+08:00"},
            ["long", "morning"],
        ),
        ({"start_at": "2026-03-10T00:00"}, []),
    ],
)
async def test_range_overlap(
    api: Api, alice: Account, params: dict[str, str], expected: list[str]
) -> None:
    assert await titles(api, alice, **params) == expected


@pytest.mark.usefixtures("week")
async def test_list_items_carry_the_full_shape_and_permission(api: Api, alice: Account) -> None:
    items = ok(await api.rest("GET", "/schedule-items", alice.access_token))
    assert all(set(i) == ITEM_KEYS and i["permission"] == 7 for i in items)
    starts = [utc(i["start_at"]) for i in items]
    assert starts == sorted(starts)


@pytest.mark.parametrize(
    "params",
    [{"start_at": "yesterday"}, {"end_at": "2026-02-30"}, {"start_at": "2026-13-01"}],
)
async def test_a_bad_bound_is_422(api: Api, alice: Account, params: dict[str, str]) -> None:
    r = await api.rest("GET", "/schedule-items", alice.access_token, params=params)
    errors = problem(r, 422)["errors"]
    assert errors and errors[0]["loc"][0] == "query"


async def test_a_range_ending_before_it_starts_is_400(api: Api, alice: Account) -> None:
    params = {"start_at": "2026-03-02", "end_at": "2026-03-01T12:00Z"}
    problem(await api.rest("GET", "/schedule-items", alice.access_token, params=params), 400)


async def test_the_list_holds_own_items_and_accepted_shares_only(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    own = await create_item(api, bob, title="bob's", start_at="2026-03-01T12:00Z")
    shared = await create_item(api, alice, title="alice's shared", start_at="2026-03-01T08:00Z")
    invited = await create_item(api, alice, title="alice's invited", start_at="2026-03-01T09:00Z")
    declined = await create_item(
        api, carol, title="carol's dismissed", start_at="2026-03-01T10:00Z"
    )
    await create_item(api, carol, title="carol's private", start_at="2026-03-01T11:00Z")
    await subscribe(api, alice, bob, shared["id"])
    ok(await share(api, alice, invited["id"], bob.email))  # not accepted
    ok(await share(api, carol, declined["id"], bob.email))
    message = await pending_invitation(api, bob, declined["id"])
    ok(await api.rest("POST", f"/inbox/messages/{message['id']}/dismiss", bob.access_token), 204)
    items = ok(await api.rest("GET", "/schedule-items", bob.access_token))
    assert [(i["title"], i["permission"]) for i in items] == [("alice's shared", 1), ("bob's", 7)]
    assert items[0]["owner_id"] == alice.id and items[1]["id"] == own["id"]


# --- get ------------------------------------------------------------------------------------------


async def test_another_users_item_is_404(api: Api, alice: Account, bob: Account) -> None:
    item = await create_item(api, alice)
    r = await api.rest("GET", f"/schedule-items/{item['id']}", bob.access_token)
    unknown = await api.rest("GET", f"/schedule-items/{uuid.uuid4()}", bob.access_token)
    assert problem(r, 404)["detail"] == problem(unknown, 404)["detail"]


async def test_an_invited_but_not_accepted_item_is_404(
    api: Api, alice: Account, bob: Account
) -> None:
    item = await create_item(api, alice)
    ok(await share(api, alice, item["id"], bob.email))
    problem(await api.rest("GET", f"/schedule-items/{item['id']}", bob.access_token), 404)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "0000"])
async def test_a_malformed_id_is_404_not_422(
    api: Api, alice: Account, method: str, bad_id: str
) -> None:
    r = await api.rest(method, f"/schedule-items/{bad_id}", alice.access_token, json={})
    problem(r, 404)
    r = await api.rest(
        "POST", f"/schedule-items/{bad_id}/share", alice.access_token, json={"email": "x@y.z"}
    )
    problem(r, 404)


async def test_authentication_comes_before_the_id(api: Api) -> None:
    problem(await api.rest("GET", "/schedule-items/not-a-uuid"), 401)
    problem(await api.rest("DELETE", "/schedule-items/not-a-uuid"), 401)


async def test_a_subscriber_gets_the_item_with_their_bits(
    api: Api, alice: Account, bob: Account
) -> None:
    item = await create_item(api, alice)
    await subscribe(api, alice, bob, item["id"], edit=True)
    got = ok(await api.rest("GET", f"/schedule-items/{item['id']}", bob.access_token))
    assert got["permission"] == 1 | 4 and got["owner_id"] == alice.id
    assert {k: v for k, v in got.items() if k != "permission"} == {
        k: v for k, v in item.items() if k != "permission"
    }


# --- update ---------------------------------------------------------------------------------------


async def test_patch_changes_only_present_fields(api: Api, alice: Account) -> None:
    item = await create_item(
        api,
        alice,
        title="Lunch",
        description="with Ann",
        start_at="2026-03-01T12:00Z",
        end_at="2026-03-01T13:00Z",
        metadata={"color": "#00FF00"},
    )
    r = await api.rest(
        "PATCH",
        f"/schedule-items/{item['id']}",
        alice.access_token,
        json={"title": "Long lunch", "status": "completed"},
    )
    patched = ok(r)
    assert patched["title"] == "Long lunch" and patched["status"] == "completed"
    for unchanged in ("description", "start_at", "end_at", "timezone", "metadata", "created_at"):
        assert patched[unchanged] == item[unchanged], unchanged
    assert instant(patched["updated_at"]) >= instant(item["updated_at"])
    assert ok(await api.rest("GET", f"/schedule-items/{item['id']}", alice.access_token)) == patched
    row = await ScheduleItem.get(id=item["id"])
    assert row.title == "Long lunch" and row.status == "completed"


@pytest.mark.parametrize("status", ["active", "completed", "cancelled"])
async def test_every_status_value_is_accepted(api: Api, alice: Account, status: str) -> None:
    item = await create_item(api, alice)
    r = await api.rest(
        "PATCH", f"/schedule-items/{item['id']}", alice.access_token, json={"status": status}
    )
    assert ok(r)["status"] == status


@pytest.mark.parametrize(
    "body",
    [
        {"status": "done"},
        {"title": None},
        {"start_at": None},
        {"timezone": None},
        {"timezone": "Nowhere/City"},
        {"metadata": None},
        {"metadata": {"color": "blue"}},
        {"title": ""},
    ],
)
async def test_invalid_patches_are_422(api: Api, alice: Account, body: dict[str, Any]) -> None:
    item = await create_item(api, alice)
    r = await api.rest("PATCH", f"/schedule-items/{item['id']}", alice.access_token, json=body)
    problem(r, 422)
    assert ok(await api.rest("GET", f"/schedule-items/{item['id']}", alice.access_token)) == item


async def test_patch_may_clear_description_and_end(api: Api, alice: Account) -> None:
    item = await create_item(api, alice, description="d", end_at="2026-03-01T10:00Z")
    r = await api.rest(
        "PATCH",
        f"/schedule-items/{item['id']}",
        alice.access_token,
        json={"description": None, "end_at": None},
    )
    patched = ok(r)
    assert patched["description"] is None and patched["end_at"] is None


async def test_end_before_start_after_the_merge_is_400(api: Api, alice: Account) -> None:
    item = await create_item(api, alice, start_at="2026-03-01T09:00Z", end_at="2026-03-01T10:00Z")
    path = f"/schedule-items/{item['id']}"
    for body in (
        {"end_at": "2026-03-01T08:00Z"},
        {"start_at": "2026-03-01T11:00Z"},
        {"start_at": "2026-03-01T12:00Z", "end_at": "2026-03-01T11:00Z"},
    ):
        problem(await api.rest("PATCH", path, alice.access_token, json=body), 400)
    assert ok(await api.rest("GET", path, alice.access_token)) == item
    # Moving both together is fine.
    body = {"start_at": "2026-03-01T11:00Z", "end_at": "2026-03-01T12:00Z"}
    assert (
        utc(ok(await api.rest("PATCH", path, alice.access_token, json=body))["end_at"]).hour == 12
    )


async def test_patched_naive_times_are_read_in_the_items_timezone(api: Api, alice: Account) -> None:
    item = await create_item(api, alice, start_at="2026-03-01T09:00", timezone="Asia/Shanghai")
    path = f"/schedule-items/{item['id']}"
    r = await api.rest("PATCH", path, alice.access_token, json={"start_at": "2026-03-01T10:00"})
    assert utc(ok(r)["start_at"]) == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    # With a new timezone in the same body, naive times are read in the new one.
    body = {"start_at": "2026-03-01T10:00", "timezone": "Europe/London"}
    patched = ok(await api.rest("PATCH", path, alice.access_token, json=body))
    assert patched["timezone"] == "Europe/London"
    assert utc(patched["start_at"]) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def test_patch_needs_the_edit_bit(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    item = await create_item(api, alice)
    dave = await api.sign_up("dave")
    await subscribe(api, alice, bob, item["id"])  # view only
    await subscribe(api, alice, carol, item["id"], edit=True)
    path = f"/schedule-items/{item['id']}"
    problem(await api.rest("PATCH", path, bob.access_token, json={"title": "bob's"}), 403)
    problem(await api.rest("PATCH", path, dave.access_token, json={"title": "dave's"}), 404)
    edited = ok(await api.rest("PATCH", path, carol.access_token, json={"title": "carol's"}))
    assert edited["title"] == "carol's" and edited["permission"] == 5
    assert ok(await api.rest("GET", path, alice.access_token))["title"] == "carol's"
    problem(
        await api.rest("PATCH", f"/schedule-items/{uuid.uuid4()}", alice.access_token, json={}), 404
    )


# --- delete ---------------------------------------------------------------------------------------


async def test_delete_is_the_owners_and_soft(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    item = await create_item(api, alice)
    await subscribe(api, alice, bob, item["id"], edit=True, invite=True)
    path = f"/schedule-items/{item['id']}"
    problem(await api.rest("DELETE", path, bob.access_token), 403)  # even with every bit
    problem(await api.rest("DELETE", path, carol.access_token), 404)
    r = await api.rest("DELETE", path, alice.access_token)
    assert r.status_code == 204 and r.content == b""
    row = await ScheduleItem.get(id=item["id"])
    assert row.deleted_at is not None
    # 404 everywhere, for everyone, and gone from every list.
    for account in (alice, bob):
        problem(await api.rest("GET", path, account.access_token), 404)
        problem(await api.rest("PATCH", path, account.access_token, json={"title": "x"}), 404)
        problem(await api.rest("DELETE", path, account.access_token), 404)
        r = await share(api, account, item["id"], carol.email)
        problem(r, 404)
        assert await titles(api, account) == []


async def test_deleting_voids_pending_invitations(api: Api, alice: Account, bob: Account) -> None:
    item = await create_item(api, alice)
    ok(await share(api, alice, item["id"], bob.email))
    message = await pending_invitation(api, bob, item["id"])
    ok(await api.rest("DELETE", f"/schedule-items/{item['id']}", alice.access_token), 204)
    assert (await InboxMessage.get(id=message["id"])).status == "dismissed"
    r = await api.rest("POST", f"/inbox/messages/{message['id']}/accept", bob.access_token)
    problem(r, 400)
