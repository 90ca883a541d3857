"""Nested GraphQL fields resolve through per-operation data loaders: a query over 3 objects and
over 50 costs the same number of SQL statements (docs/contract.md §4 "Object graph")."""

from __future__ import annotations

import uuid

import pytest

from models import FriendRequest, Friendship, InboxMessage, ScheduleItem, ScheduleSubscription
from models.friends import pair_key
from tests.support.client import Account, Api
from tests.support.sql_counter import count_statements

QUERIES = {
    "scheduleItems": """{ scheduleItems { id owner { username }
        subscribers { permission user { username } } } }""",
    "inboxMessages": """{ inboxMessages { id sender { username } recipient { username }
        scheduleItem { id title owner { username } subscribers { user { id } } } } }""",
    "friendRequests": "{ friendRequests(direction: INCOMING) { id from { username } to { id } } }",
    "friends": "{ friends { id friend { username } } }",
}


async def _populate(me: Account, owners: list[Account], guests: list[Account], n: int) -> None:
    """n items owned by others and shared with me and a guest, n invitations, n requests, n
    friends. Owners and guests are distinct users in both sizes, so the loaders' caches hit
    alike and only the number of objects differs."""
    for i in range(n):
        owner = owners[i]
        item = await ScheduleItem.create(
            owner_id=owner.id, title=f"item {i}", start_at="2026-05-01T10:00:00+00:00"
        )
        await ScheduleSubscription.create(item_id=item.id, user_id=me.id, permission=1)
        await ScheduleSubscription.create(item_id=item.id, user_id=guests[i].id, permission=3)
        await InboxMessage.create(
            recipient_id=me.id,
            sender_id=owner.id,
            message_type="calendar",
            schedule_item_id=item.id,
            permission=1,
        )
        request = await FriendRequest.create(
            from_user_id=owner.id,
            to_user_id=me.id,
            open_pair=pair_key(uuid.UUID(owner.id), uuid.UUID(me.id)),
        )
        assert request
        low, high = sorted([owner.id, me.id], key=str)
        await Friendship.create(user_low_id=low, user_high_id=high)


async def _cost(api: Api, me: Account, query: str) -> tuple[int, dict[str, object]]:
    with count_statements() as statements:
        body = await api.gql(query, token=me.access_token)
    assert "errors" not in body, body
    return len(statements), body["data"]


@pytest.mark.parametrize("field", list(QUERIES))
async def test_statement_count_does_not_grow_with_objects(api: Api, field: str) -> None:
    small_me = await api.quick_user()
    big_me = await api.quick_user()
    owners = [await api.quick_user() for _ in range(50)]
    guests = [await api.quick_user() for _ in range(50)]
    await _populate(small_me, owners, guests, 3)
    await _populate(big_me, owners, guests, 50)

    small, small_data = await _cost(api, small_me, QUERIES[field])
    big, big_data = await _cost(api, big_me, QUERIES[field])

    assert len(small_data[field]) == 3 and len(big_data[field]) == 50  # type: ignore[arg-type]
    assert small == big, f"{field}: {small} statements for 3 objects, {big} for 50"
