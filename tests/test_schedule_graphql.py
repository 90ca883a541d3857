"""Schedule items and sharing through GraphQL (docs/contract.md §3 Schedule items, §4): times and
time zones, validation, range queries, who sees and may change what, and `shareScheduleItem`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from models import ScheduleSubscription
from tests.support.client import Account, Api
from tests.support.graphql_calls import gql_error_code, gql_ok, operation

USER = "{ id username }"
ITEM_FIELDS = (
    "id title description startAt endAt timezone metadata status sourceType permission "
    f"createdAt updatedAt owner {USER} subscribers {{ permission user {USER} }}"
)


CREATE = operation(
    "mutation($input: CreateScheduleItemInput!)", "createScheduleItem(input: $input)", ITEM_FIELDS
)
UPDATE = operation(
    "mutation($id: ID!, $input: UpdateScheduleItemInput!)",
    "updateScheduleItem(id: $id, input: $input)",
    ITEM_FIELDS,
)
DELETE = operation("mutation($id: ID!)", "deleteScheduleItem(id: $id)")
SHARE = operation(
    "mutation($id: ID!, $input: ShareScheduleItemInput!)",
    "shareScheduleItem(id: $id, input: $input)",
    "message",
)
ACCEPT = operation(
    "mutation($id: ID!, $input: AcceptInboxMessageInput)",
    "acceptInboxMessage(id: $id, input: $input)",
    "id status",
)
DISMISS = operation("mutation($id: ID!)", "dismissInboxMessage(id: $id)", "id")
ITEM = operation("query($id: ID!)", "scheduleItem(id: $id)", ITEM_FIELDS)
ITEMS = operation(
    "query($s: DateTime, $e: DateTime)",
    "scheduleItems(startAt: $s, endAt: $e)",
    "id title permission",
)
INBOX = operation(
    "query",
    "inboxMessages",
    f"id messageType status permission content sender {USER} scheduleItem {{ id }}",
)


async def create(api: Api, owner: Account, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"title": "Standup", "startAt": "2026-03-01T09:00:00+00:00"}
    values.update(fields)
    item: dict[str, Any] = await gql_ok(api, CREATE, {"input": values}, owner)
    return item


async def update(api: Api, who: Account, item_id: str, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = await gql_ok(api, UPDATE, {"id": item_id, "input": fields}, who)
    return item


def share_input(email: str, bits: int = 1) -> dict[str, Any]:
    return {
        "email": email,
        "permissionView": bool(bits & 1),
        "permissionInvite": bool(bits & 2),
        "permissionEdit": bool(bits & 4),
    }


async def share(api: Api, sharer: Account, item_id: str, to: Account, bits: int = 1) -> str:
    variables = {"id": item_id, "input": share_input(to.email, bits)}
    result = await gql_ok(api, SHARE, variables, sharer)
    return str(result["message"])


async def share_code(
    api: Api, sharer: Account, item_id: str, email: str, bits: int = 1
) -> str | None:
    return await gql_error_code(
        api, SHARE, {"id": item_id, "input": share_input(email, bits)}, sharer
    )


async def invitations(api: Api, who: Account) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = await gql_ok(api, INBOX, {}, who)
    return [m for m in messages if m["messageType"] == "CALENDAR"]


async def subscribe(api: Api, owner: Account, item_id: str, guest: Account, bits: int) -> None:
    """`guest` accepts a share of `item_id` holding exactly `bits`."""
    await share(api, owner, item_id, guest, bits)
    pending = [m for m in await invitations(api, guest) if m["status"] == "PENDING"]
    (message,) = [m for m in pending if m["scheduleItem"]["id"] == item_id]
    everything = {"permissionView": True, "permissionInvite": True, "permissionEdit": True}
    await gql_ok(api, ACCEPT, {"id": message["id"], "input": everything}, guest)


async def listed(api: Api, who: Account, start: str | None = None, end: str | None = None) -> Any:
    return await gql_ok(api, ITEMS, {"s": start, "e": end}, who)


async def test_every_schedule_operation_needs_a_token(api: Api) -> None:
    some_id = str(uuid.uuid4())
    operations: list[tuple[str, dict[str, Any]]] = [
        (ITEMS, {}),
        (ITEM, {"id": some_id}),
        (CREATE, {"input": {"title": "x", "startAt": "2026-03-01T09:00:00Z"}}),
        (UPDATE, {"id": some_id, "input": {"title": "y"}}),
        (DELETE, {"id": some_id}),
        (SHARE, {"id": some_id, "input": {"email": "a@example.com"}}),
    ]
    for query, variables in operations:
        assert await gql_error_code(api, query, variables, None) == "UNAUTHENTICATED", query


async def test_create_reads_a_naive_time_in_the_items_time_zone(api: Api) -> None:
    ann = await api.quick_user()

    item = await create(
        api,
        ann,
        title="Breakfast",
        description="at the hotel",
        startAt="2026-03-01T09:00:00",
        endAt="2026-03-01T10:30:00",
        timezone="Asia/Shanghai",
        metadata={"color": "#FFaa00", "location": "Lobby"},
    )

    assert item["startAt"] == "2026-03-01T01:00:00+00:00"
    assert item["endAt"] == "2026-03-01T02:30:00+00:00"
    assert item["timezone"] == "Asia/Shanghai"
    assert item["title"] == "Breakfast" and item["description"] == "at the hotel"
    assert item["metadata"] == {"color": "#FFaa00", "location": "Lobby"}
    assert item["status"] == "ACTIVE" and item["sourceType"] == "MANUAL"
    assert item["permission"] == 7
    assert item["owner"] == {"id": ann.id, "username": ann.username}
    assert item["subscribers"] == []
    assert item["createdAt"].endswith("+00:00") and item["updatedAt"].endswith("+00:00")
    assert await gql_ok(api, ITEM, {"id": item["id"]}, ann) == item


async def test_create_defaults_to_utc_and_keeps_explicit_offsets(api: Api) -> None:
    ann = await api.quick_user()

    plain = await create(api, ann, startAt="2026-03-01T09:00:00")
    offset = await create(
        api, ann, startAt="2026-03-01T09:00:00+08:00", timezone="America/New_York"
    )

    assert plain["timezone"] == "UTC" and plain["startAt"] == "2026-03-01T09:00:00+00:00"
    assert plain["endAt"] is None and plain["metadata"] == {} and plain["description"] is None
    assert offset["startAt"] == "2026-03-01T01:00:00+00:00"  # the offset wins over the zone


async def test_create_rejects_invalid_items(api: Api) -> None:
    ann = await api.quick_user()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"timezone": "Mars/Olympus_Mons"}, "BAD_USER_INPUT"),
        ({"metadata": {"blob": "x" * (16 * 1024)}}, "BAD_USER_INPUT"),
        ({"metadata": {"color": "red"}}, "BAD_USER_INPUT"),
        ({"metadata": {"color": "#12345G"}}, "BAD_USER_INPUT"),
        ({"title": ""}, "BAD_USER_INPUT"),
        ({"startAt": "the first of March"}, "BAD_USER_INPUT"),
        ({"metadata": ["not", "an", "object"]}, "BAD_USER_INPUT"),
        ({"endAt": "2026-03-01T08:59:59+00:00"}, "BAD_REQUEST"),
        # 09:00 in Shanghai is 01:00 UTC, so an end at 00:30 UTC comes before it
        ({"startAt": "2026-03-01T09:00:00", "timezone": "Asia/Shanghai",
          "endAt": "2026-03-01T00:30:00+00:00"}, "BAD_REQUEST"),
    ]  # fmt: skip
    for fields, expected in cases:
        values = {"title": "x", "startAt": "2026-03-01T09:00:00+00:00", **fields}
        assert await gql_error_code(api, CREATE, {"input": values}, ann) == expected, fields
    assert await listed(api, ann) == []


async def test_create_accepts_an_end_equal_to_the_start_and_metadata_up_to_16_kib(
    api: Api,
) -> None:
    ann = await api.quick_user()
    point = await create(api, ann, endAt="2026-03-01T09:00:00+00:00")
    assert point["endAt"] == point["startAt"]
    # {"blob":"…"} serialized is 11 bytes plus the string: exactly 16 KiB
    big = await create(api, ann, metadata={"blob": "x" * (16 * 1024 - 11)})
    assert len(big["metadata"]["blob"]) == 16 * 1024 - 11


async def test_update_changes_only_the_given_fields(api: Api) -> None:
    ann = await api.quick_user()
    item = await create(
        api, ann, endAt="2026-03-01T10:00:00+00:00", description="daily", metadata={"a": 1}
    )

    updated = await update(api, ann, item["id"], title="Retro", status="COMPLETED")

    assert updated["title"] == "Retro" and updated["status"] == "COMPLETED"
    for unchanged in ("description", "startAt", "endAt", "timezone", "metadata", "createdAt"):
        assert updated[unchanged] == item[unchanged], unchanged
    assert datetime.fromisoformat(updated["updatedAt"]) >= datetime.fromisoformat(item["updatedAt"])
    assert await gql_ok(api, ITEM, {"id": item["id"]}, ann) == updated

    cleared = await update(api, ann, item["id"], description=None, endAt=None)
    assert cleared["description"] is None and cleared["endAt"] is None


async def test_update_reads_naive_times_in_the_new_or_stored_time_zone(api: Api) -> None:
    ann = await api.quick_user()
    item = await create(api, ann, startAt="2026-03-01T09:00:00", timezone="Asia/Shanghai")

    same_zone = await update(api, ann, item["id"], startAt="2026-03-01T08:00:00")
    assert same_zone["startAt"] == "2026-03-01T00:00:00+00:00"

    moved = await update(
        api, ann, item["id"], timezone="Europe/London", startAt="2026-07-01T09:00:00"
    )
    assert moved["timezone"] == "Europe/London"
    assert moved["startAt"] == "2026-07-01T08:00:00+00:00"  # British Summer Time


async def test_update_checks_the_end_against_the_stored_start_and_vice_versa(api: Api) -> None:
    ann = await api.quick_user()
    item = await create(api, ann, endAt="2026-03-01T10:00:00+00:00")
    item_id = item["id"]

    for fields in (
        {"endAt": "2026-03-01T08:00:00+00:00"},
        {"startAt": "2026-03-01T11:00:00+00:00"},
        {"startAt": "2026-03-01T11:00:00+00:00", "endAt": "2026-03-01T10:30:00+00:00"},
    ):
        assert (
            await gql_error_code(api, UPDATE, {"id": item_id, "input": fields}, ann)
            == "BAD_REQUEST"
        )

    after = await gql_ok(api, ITEM, {"id": item_id}, ann)
    assert (after["startAt"], after["endAt"]) == (item["startAt"], item["endAt"])
    moved = await update(api, ann, item_id, startAt="2026-03-01T11:00:00+00:00", endAt=None)
    assert moved["startAt"] == "2026-03-01T11:00:00+00:00" and moved["endAt"] is None


async def test_update_rejects_invalid_values(api: Api) -> None:
    ann = await api.quick_user()
    item = await create(api, ann)
    for fields in (
        {"timezone": "Nowhere/Special"},
        {"metadata": {"color": "blue"}},
        {"metadata": {"pad": "x" * (16 * 1024)}},
        {"title": ""},
        {"title": None},
        {"startAt": None},
        {"status": None},
        {"timezone": None},
        {"metadata": None},
    ):
        variables = {"id": item["id"], "input": fields}
        assert await gql_error_code(api, UPDATE, variables, ann) == "BAD_USER_INPUT", fields
    assert await gql_ok(api, ITEM, {"id": item["id"]}, ann) == item


async def test_schedule_items_returns_the_items_overlapping_the_range_by_start(
    api: Api,
) -> None:
    ann = await api.quick_user()

    async def at(title: str, start: str, end: str | None = None) -> None:
        await create(
            api, ann, title=title, startAt=f"2026-03-01T{start}:00Z",
            endAt=f"2026-03-01T{end}:00Z" if end else None,
        )  # fmt: skip

    await at("morning", "09:00", "10:00")
    await at("noon", "11:00", "12:00")
    await at("point", "13:00")  # no end: a moment
    await at("all-day", "08:00", "14:00")
    await at("late", "20:00")

    async def titles(start: str | None, end: str | None) -> list[str]:
        items = await listed(
            api, ann,
            f"2026-03-01T{start}:00+00:00" if start else None,
            f"2026-03-01T{end}:00+00:00" if end else None,
        )  # fmt: skip
        return [i["title"] for i in items]

    assert await titles(None, None) == ["all-day", "morning", "noon", "point", "late"]
    assert await titles("10:30", "11:30") == ["all-day", "noon"]
    assert await titles("12:30", "13:30") == ["all-day", "point"]
    # the range end is exclusive, and an item ending when the range starts does not overlap
    assert await titles("10:00", "11:00") == ["all-day"]
    assert await titles("13:00", "13:01") == ["all-day", "point"]
    assert await titles("13:01", "15:00") == ["all-day"]
    assert await titles("14:00", None) == ["late"]
    assert await titles(None, "09:00") == ["all-day"]
    assert await titles("21:00", "23:00") == []
    # offsets in the bounds are honoured: 18:30-19:30 in Shanghai is 10:30-11:30 UTC
    shanghai = await listed(api, ann, "2026-03-01T18:30:00+08:00", "2026-03-01T19:30:00+08:00")
    assert [i["title"] for i in shanghai] == ["all-day", "noon"]


async def test_schedule_items_lists_own_items_and_accepted_shares_only(api: Api) -> None:
    ann, bob, eve = await api.quick_user(), await api.quick_user(), await api.quick_user()
    mine = await create(api, ann, title="mine", startAt="2026-03-01T10:00:00Z")
    accepted = await create(api, bob, title="accepted", startAt="2026-03-01T09:00:00Z")
    pending = await create(api, bob, title="pending", startAt="2026-03-01T11:00:00Z")
    await create(api, eve, title="eve's", startAt="2026-03-01T08:00:00Z")
    await subscribe(api, bob, accepted["id"], ann, bits=1)
    await share(api, bob, pending["id"], ann, bits=7)  # not accepted yet

    items = await listed(api, ann)

    assert [(i["title"], i["permission"]) for i in items] == [("accepted", 1), ("mine", 7)]
    assert [i["title"] for i in await listed(api, bob)] == ["accepted", "pending"]
    assert all(i["permission"] == 7 for i in await listed(api, bob))
    assert mine["permission"] == 7


async def test_schedule_item_is_null_when_not_visible(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    item = await create(api, bob)
    await share(api, bob, item["id"], ann, bits=7)  # pending: not visible yet

    for item_id in (item["id"], str(uuid.uuid4()), "not-an-id", ""):
        body = await api.gql(ITEM, {"id": item_id}, ann.access_token)
        assert body == {"data": {"scheduleItem": None}}, (item_id, body)


async def test_subscribers_see_the_item_with_their_bits_and_editors_see_the_subscribers(
    api: Api,
) -> None:
    ann, bob, cat, dan = [await api.quick_user() for _ in range(4)]
    item = await create(api, ann)
    await subscribe(api, ann, item["id"], bob, bits=1)
    await subscribe(api, ann, item["id"], cat, bits=3)
    await subscribe(api, ann, item["id"], dan, bits=5)

    seen = {
        who.id: await gql_ok(api, ITEM, {"id": item["id"]}, who) for who in (ann, bob, cat, dan)
    }

    assert [seen[who.id]["permission"] for who in (ann, bob, cat, dan)] == [7, 1, 3, 5]
    share = {
        who.id: {"permission": bits, "user": {"id": who.id, "username": who.username}}
        for who, bits in ((bob, 1), (cat, 3), (dan, 5))
    }
    everyone = [share[bob.id], share[cat.id], share[dan.id]]
    # The owner and an editor see every share (docs/graphql.md, "Decisions"); the others their own.
    assert seen[ann.id]["subscribers"] == seen[dan.id]["subscribers"] == everyone
    assert seen[bob.id]["subscribers"] == [share[bob.id]]
    assert seen[cat.id]["subscribers"] == [share[cat.id]]
    for answer in seen.values():
        assert answer["owner"] == {"id": ann.id, "username": ann.username}


async def test_update_needs_the_owner_or_the_edit_bit(api: Api) -> None:
    owner, viewer, inviter, editor, eve = [await api.quick_user() for _ in range(5)]
    item = await create(api, owner)
    await subscribe(api, owner, item["id"], viewer, bits=1)
    await subscribe(api, owner, item["id"], inviter, bits=3)
    await subscribe(api, owner, item["id"], editor, bits=5)
    change = {"id": item["id"], "input": {"title": "changed"}}

    assert await gql_error_code(api, UPDATE, change, viewer) == "FORBIDDEN"
    assert await gql_error_code(api, UPDATE, change, inviter) == "FORBIDDEN"
    assert await gql_error_code(api, UPDATE, change, eve) == "NOT_FOUND"
    assert (
        await gql_error_code(api, UPDATE, {**change, "id": str(uuid.uuid4())}, owner) == "NOT_FOUND"
    )
    assert await gql_error_code(api, UPDATE, {**change, "id": "nope"}, owner) == "NOT_FOUND"
    assert (await gql_ok(api, ITEM, {"id": item["id"]}, owner))["title"] == "Standup"

    by_editor = await update(api, editor, item["id"], title="edited")
    assert by_editor["title"] == "edited" and by_editor["permission"] == 5
    assert (await update(api, owner, item["id"], title="owned"))["title"] == "owned"
    assert (await gql_ok(api, ITEM, {"id": item["id"]}, viewer))["title"] == "owned"


async def test_delete_is_for_the_owner_and_removes_the_item_everywhere(api: Api) -> None:
    owner, editor, eve, invitee = [await api.quick_user() for _ in range(4)]
    item = await create(api, owner)
    item_id = item["id"]
    await subscribe(api, owner, item_id, editor, bits=7)
    await share(api, owner, item_id, invitee, bits=1)  # still pending when the item goes

    assert await gql_error_code(api, DELETE, {"id": item_id}, editor) == "FORBIDDEN"
    assert await gql_error_code(api, DELETE, {"id": item_id}, eve) == "NOT_FOUND"
    assert await gql_error_code(api, DELETE, {"id": "nope"}, owner) == "NOT_FOUND"
    assert await gql_ok(api, ITEM, {"id": item_id}, editor) is not None

    assert await gql_ok(api, DELETE, {"id": item_id}, owner) is True

    for who in (owner, editor):
        assert await gql_ok(api, ITEM, {"id": item_id}, who) is None
        assert await listed(api, who) == []
    assert await gql_error_code(api, DELETE, {"id": item_id}, owner) == "NOT_FOUND"
    assert (
        await gql_error_code(api, UPDATE, {"id": item_id, "input": {"title": "x"}}, owner)
        == "NOT_FOUND"
    )
    assert await share_code(api, owner, item_id, eve.email) == "NOT_FOUND"
    (invitation,) = await invitations(api, invitee)
    assert invitation["status"] == "DISMISSED" and invitation["scheduleItem"] is None


async def test_the_owner_shares_by_email_into_the_recipients_inbox(api: Api) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    item = await create(api, ann, title="Offsite")

    message = await share(api, ann, item["id"], bob, bits=5)

    assert message == f"Invitation sent to {bob.email}"
    (invitation,) = await invitations(api, bob)
    assert invitation["status"] == "PENDING" and invitation["permission"] == 5
    assert invitation["sender"] == {"id": ann.id, "username": ann.username}
    assert invitation["scheduleItem"] == {"id": item["id"]}
    assert "Offsite" in invitation["content"]
    # the address is matched case-insensitively
    cat = await api.quick_user()
    await gql_ok(api, SHARE, {"id": item["id"], "input": share_input(cat.email.upper())}, ann)
    assert len(await invitations(api, cat)) == 1


async def test_a_subscriber_with_the_invite_bit_shares_at_most_what_they_hold(
    api: Api,
) -> None:
    owner, inviter, viewer, cat, dan = [await api.quick_user() for _ in range(5)]
    item = await create(api, owner)
    await subscribe(api, owner, item["id"], inviter, bits=3)
    await subscribe(api, owner, item["id"], viewer, bits=1)

    assert await share_code(api, inviter, item["id"], cat.email, bits=7) == "FORBIDDEN"
    assert await share_code(api, inviter, item["id"], cat.email, bits=5) == "FORBIDDEN"
    assert await share_code(api, viewer, item["id"], cat.email, bits=1) == "FORBIDDEN"
    assert await invitations(api, cat) == []

    await share(api, inviter, item["id"], cat, bits=3)
    await share(api, inviter, item["id"], dan, bits=1)
    (to_cat,) = await invitations(api, cat)
    assert to_cat["permission"] == 3 and to_cat["sender"]["id"] == inviter.id
    assert (await invitations(api, dan))[0]["permission"] == 1


async def test_share_refuses_strangers_oneself_subscribers_and_unknown_emails(api: Api) -> None:
    owner, bob, eve = await api.quick_user(), await api.quick_user(), await api.quick_user()
    item = await create(api, owner)
    await subscribe(api, owner, item["id"], bob, bits=3)

    assert await share_code(api, eve, item["id"], bob.email) == "NOT_FOUND"
    assert await share_code(api, owner, str(uuid.uuid4()), bob.email) == "NOT_FOUND"
    assert await share_code(api, owner, "nope", bob.email) == "NOT_FOUND"
    assert await share_code(api, owner, item["id"], owner.email) == "BAD_REQUEST"
    assert await share_code(api, bob, item["id"], bob.email) == "BAD_REQUEST"
    assert await share_code(api, owner, item["id"], bob.email) == "CONFLICT"
    assert await share_code(api, bob, item["id"], owner.email) == "CONFLICT"
    assert await share_code(api, owner, item["id"], "nobody@example.com") == "NOT_FOUND"
    body = {"id": item["id"], "input": {**share_input(eve.email), "permissionView": False}}
    assert await gql_error_code(api, SHARE, body, owner) == "BAD_USER_INPUT"
    assert await invitations(api, eve) == []


async def test_a_second_invitation_to_a_pending_recipient_replaces_the_first(api: Api) -> None:
    owner, inviter, bob = await api.quick_user(), await api.quick_user(), await api.quick_user()
    item = await create(api, owner)
    await subscribe(api, owner, item["id"], inviter, bits=3)

    await share(api, owner, item["id"], bob, bits=1)
    (first,) = await invitations(api, bob)
    await share(api, owner, item["id"], bob, bits=7)
    (second,) = await invitations(api, bob)
    await share(api, inviter, item["id"], bob, bits=3)
    (third,) = await invitations(api, bob)

    assert first["id"] == second["id"] == third["id"]
    assert (first["permission"], second["permission"], third["permission"]) == (1, 7, 3)
    assert third["sender"]["id"] == inviter.id and third["status"] == "PENDING"

    # once the recipient has answered, a new share is a new invitation
    await gql_ok(api, DISMISS, {"id": third["id"]}, bob)
    await share(api, owner, item["id"], bob, bits=1)
    statuses = sorted(m["status"] for m in await invitations(api, bob))
    assert statuses == ["DISMISSED", "PENDING"]


async def test_access_ends_when_the_subscription_row_goes(api: Api) -> None:
    owner, bob = await api.quick_user(), await api.quick_user()
    item = await create(api, owner)
    await subscribe(api, owner, item["id"], bob, bits=7)
    assert (await gql_ok(api, ITEM, {"id": item["id"]}, bob))["permission"] == 7

    await ScheduleSubscription.filter(item_id=item["id"], user_id=bob.id).delete()

    assert await gql_ok(api, ITEM, {"id": item["id"]}, bob) is None
    assert await listed(api, bob) == []
    assert await gql_error_code(api, UPDATE, {"id": item["id"], "input": {"title": "x"}}, bob) == (
        "NOT_FOUND"
    )
