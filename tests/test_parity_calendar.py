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
    series_id: str  # SERIES: weekly, one occurrence left out, one edited; viewer holds view-only
    all_day_id: str  # ALL_DAY


# A weekly series across the change to summer time, its second occurrence left out and its
# fourth edited (moved to the next day, renamed); and an all-day item of two days.
SERIES = {
    "title": "Team sync",
    "start_at": "2026-03-16T10:00:00",
    "end_at": "2026-03-16T11:00:00",
    "timezone": "Europe/Berlin",
    "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
    "exdates": ["2026-03-23T10:00:00"],
}
EDITED = "2026-04-06T08:00:00Z"  # the fourth occurrence's original start (10:00 CEST)
EDIT = {"title": "Sync (moved)", "start_at": "2026-04-07T14:00:00Z"}
ALL_DAY = {
    "title": "Offsite",
    "all_day": True,
    "start_at": "2026-12-24",
    "end_at": "2026-12-26",
    "timezone": "Europe/Berlin",
}


async def _created(api: Api, owner: Account, body: dict[str, Any]) -> str:
    response = await api.rest("POST", "/schedule-items", owner.access_token, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def build_world(api: Api) -> World:
    owner, friend, viewer, stranger = [await api.quick_user() for _ in range(4)]
    item = await ScheduleItem.create(
        owner_id=owner.id, title="Standup", start_at="2026-03-01T09:00:00+00:00"
    )
    await ScheduleSubscription.create(item_id=item.id, user_id=viewer.id, permission=1)
    # Through the API: the series' columns are the server's own (canonical rule, its end).
    series_id = await _created(api, owner, SERIES)
    edit = await api.rest(
        "PATCH",
        f"/schedule-items/{series_id}",
        owner.access_token,
        params={"occurrence": EDITED},
        json=EDIT,
    )
    assert edit.status_code == 200, edit.text
    await ScheduleSubscription.create(item_id=series_id, user_id=viewer.id, permission=1)
    all_day_id = await _created(api, owner, ALL_DAY)
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
        series_id,
        all_day_id,
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
    # --- recurring and all-day items ---
    "create a series": (
        lambda t, w: t.create_item(w.owner.access_token, **SERIES),
        _ok_item(
            {
                "start_at": "2026-03-16T09:00:00Z",
                "end_at": "2026-03-16T10:00:00Z",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
                "exdates": ["2026-03-23T09:00:00Z"],
                "all_day": False,
                "start_date": None,
                "end_date": None,
                "occurrence_start_at": None,  # not a list entry
                "occurrence_end_at": None,
                "original_start_at": None,
            }
        ),
    ),
    "create an all-day item": (
        lambda t, w: t.create_item(w.owner.access_token, **ALL_DAY),
        _ok_item(
            {
                "all_day": True,
                "start_date": "2026-12-24",
                "end_date": "2026-12-26",
                "start_at": "2026-12-23T23:00:00Z",  # local midnights, Berlin in winter
                "end_at": "2026-12-25T23:00:00Z",
                "recurrence": None,
                "exdates": [],
            }
        ),
    ),
    "create an all-day item with a time": (
        lambda t, w: t.create_item(
            w.owner.access_token, title="x", all_day=True, start_at="2026-12-24T10:00:00Z"
        ),
        "BAD_USER_INPUT",
    ),
    "create an all-day item that ends on its first day": (
        lambda t, w: t.create_item(
            w.owner.access_token, **{**ALL_DAY, "end_at": ALL_DAY["start_at"]}
        ),
        "BAD_REQUEST",
    ),
    "create a series with an unsupported rule": (
        lambda t, w: t.create_item(
            w.owner.access_token, **{**SERIES, "recurrence": "FREQ=MINUTELY"}
        ),
        "BAD_USER_INPUT",
    ),
    "create a series with an exdate that is not an occurrence": (
        lambda t, w: t.create_item(
            w.owner.access_token, **{**SERIES, "exdates": ["2026-03-24T10:00:00"]}
        ),
        "BAD_USER_INPUT",
    ),
    "create exdates of an item that does not repeat": (
        lambda t, w: t.create_item(
            w.owner.access_token,
            title="x",
            start_at="2026-03-16T10:00:00Z",
            exdates=["2026-03-16T10:00:00Z"],
        ),
        "BAD_USER_INPUT",
    ),
    "get a series: the item, not an occurrence": (
        lambda t, w: t.get_item(w.viewer.access_token, w.series_id),
        _ok_item(
            {
                "title": "Team sync",
                "permission": 1,
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
                "exdates": ["2026-03-23T09:00:00Z"],
                "occurrence_start_at": None,
                "original_start_at": None,
            }
        ),
    ),
    "edit one occurrence": (
        lambda t, w: t.update_item(
            w.owner.access_token, w.series_id, occurrence="2026-03-30T08:00:00Z", title="Moved"
        ),
        _ok_item(
            {
                "title": "Moved",
                "start_at": "2026-03-16T09:00:00Z",  # the series' own
                "occurrence_start_at": "2026-03-30T08:00:00Z",
                "occurrence_end_at": "2026-03-30T09:00:00Z",
                "original_start_at": "2026-03-30T08:00:00Z",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
            }
        ),
    ),
    "edit an edited occurrence again": (
        lambda t, w: t.update_item(
            w.owner.access_token, w.series_id, occurrence=EDITED, status="cancelled"
        ),
        _ok_item(
            {
                "title": "Sync (moved)",
                "status": "cancelled",
                "occurrence_start_at": "2026-04-07T14:00:00Z",
                "occurrence_end_at": "2026-04-07T15:00:00Z",
                "original_start_at": EDITED,
            }
        ),
    ),
    "edit one occurrence by a view-only subscriber": (
        lambda t, w: t.update_item(
            w.viewer.access_token, w.series_id, occurrence="2026-03-30T08:00:00Z", title="x"
        ),
        "FORBIDDEN",
    ),
    "edit one occurrence by a stranger": (
        lambda t, w: t.update_item(
            w.stranger.access_token, w.series_id, occurrence="2026-03-30T08:00:00Z", title="x"
        ),
        "NOT_FOUND",
    ),
    "edit a series field of one occurrence": (
        lambda t, w: t.update_item(
            w.owner.access_token, w.series_id, occurrence="2026-03-30T08:00:00Z", timezone="UTC"
        ),
        "BAD_USER_INPUT",
    ),
    "move one occurrence before the series' start": (
        lambda t, w: t.update_item(
            w.owner.access_token,
            w.series_id,
            occurrence="2026-03-30T08:00:00Z",
            start_at="2026-03-01T08:00:00Z",
        ),
        "BAD_USER_INPUT",
    ),
    "edit a start that is no occurrence": (
        lambda t, w: t.update_item(
            w.owner.access_token, w.series_id, occurrence="2026-03-17T09:00:00Z", title="x"
        ),
        "NOT_FOUND",
    ),
    "edit a left-out occurrence": (
        lambda t, w: t.update_item(
            w.owner.access_token, w.series_id, occurrence="2026-03-23T09:00:00Z", title="x"
        ),
        "NOT_FOUND",
    ),
    "edit an occurrence of an item that does not repeat": (
        lambda t, w: t.update_item(
            w.owner.access_token, w.item_id, occurrence="2026-03-01T09:00:00Z", title="x"
        ),
        "BAD_REQUEST",
    ),
    "edit the whole series: its rule": (
        lambda t, w: t.update_item(
            w.owner.access_token, w.series_id, recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=2"
        ),
        _ok_item(
            {
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=2",
                "exdates": ["2026-03-23T09:00:00Z"],  # still an occurrence of the new rule
                "occurrence_start_at": None,
            }
        ),
    ),
    "leave one occurrence out": (
        lambda t, w: t.delete_item(
            w.owner.access_token, w.series_id, occurrence="2026-03-30T08:00:00Z"
        ),
        lambda o: o.expect_ok(),
    ),
    "leave one occurrence out as a view-only subscriber": (
        lambda t, w: t.delete_item(
            w.viewer.access_token, w.series_id, occurrence="2026-03-30T08:00:00Z"
        ),
        "FORBIDDEN",
    ),
    "leave out a start that is no occurrence": (
        lambda t, w: t.delete_item(
            w.owner.access_token, w.series_id, occurrence="2026-03-31T08:00:00Z"
        ),
        "NOT_FOUND",
    ),
    "leave out an occurrence of an item that does not repeat": (
        lambda t, w: t.delete_item(
            w.owner.access_token, w.item_id, occurrence="2026-03-01T09:00:00Z"
        ),
        "BAD_REQUEST",
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


# The list entries of build_world's owner in March-December 2026, by occurrence start:
# (title, occurrence_start_at, occurrence_end_at, original_start_at).
OWNER_ENTRIES = [
    ("Standup", "2026-03-01T09:00:00Z", None, "2026-03-01T09:00:00Z"),
    ("Team sync", "2026-03-16T09:00:00Z", "2026-03-16T10:00:00Z", "2026-03-16T09:00:00Z"),
    # 2026-03-23 is left out; from 2026-03-29 Berlin is on summer time, still 10:00 there
    ("Team sync", "2026-03-30T08:00:00Z", "2026-03-30T09:00:00Z", "2026-03-30T08:00:00Z"),
    ("Sync (moved)", "2026-04-07T14:00:00Z", "2026-04-07T15:00:00Z", EDITED),
    ("Offsite", "2026-12-23T23:00:00Z", "2026-12-25T23:00:00Z", "2026-12-23T23:00:00Z"),
]


async def test_list_entries_agree_field_by_field(api: Api) -> None:
    """One world listed through both doors: the same entries, every field GraphQL has equal to
    REST's (occurrences, the series' fields on each, all-day dates)."""
    world = await build_world(api)
    listed = {}
    for kind in ("rest", "graphql"):
        transport = CalendarTransport(api, kind)
        outcome = await transport.list_items(
            world.owner.access_token, "2026-03-01T00:00:00Z", "2027-01-01T00:00:00Z"
        )
        listed[kind] = outcome.expect_ok()
    rest, graphql = listed["rest"], listed["graphql"]
    assert [(e["id"], e["original_start_at"]) for e in rest] == [
        (e["id"], e["original_start_at"]) for e in graphql
    ]
    for rest_entry, graphql_entry in zip(rest, graphql, strict=True):
        assert {k: rest_entry[k] for k in graphql_entry} == graphql_entry
    entries = [
        (e["title"], e["occurrence_start_at"], e["occurrence_end_at"], e["original_start_at"])
        for e in rest
    ]
    assert entries == OWNER_ENTRIES
    series = [e for e in rest if e["id"] == world.series_id]
    assert {(e["recurrence"], tuple(e["exdates"]), e["start_at"]) for e in series} == {
        ("FREQ=WEEKLY;BYDAY=MO;COUNT=4", ("2026-03-23T09:00:00Z",), "2026-03-16T09:00:00Z")
    }
    offsite = next(e for e in rest if e["id"] == world.all_day_id)
    assert (offsite["all_day"], offsite["start_date"], offsite["end_date"]) == (
        True,
        "2026-12-24",
        "2026-12-26",
    )
    assert all(e["all_day"] is False and e["start_date"] is None for e in rest if e is not offsite)
