"""The visibility rule is written once (`resolvers.access.readable_items`); the PostgreSQL list
runs it as a UNION of its halves for speed. Both must find the same items, for any range."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from resolvers.access import readable_items
from resolvers.schedule_listing import _orm_rows, list_item_rows
from tests.support.calendar_api import create_item, ok, share, subscribe
from tests.support.client import Account, Api

RANGES = [
    (None, None),
    (datetime(2026, 3, 1, tzinfo=UTC), None),
    (None, datetime(2026, 3, 2, tzinfo=UTC)),
    (datetime(2026, 3, 1, 9, 30, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC)),
    (datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 8, tzinfo=UTC)),
    (datetime(2027, 1, 1, tzinfo=UTC), None),
]


@pytest.fixture
async def seen_by_alice(api: Api, alice: Account, bob: Account, carol: Account) -> set[str]:
    """Alice's world, and the ids she may see in it."""

    async def item(owner: Account, **body: object) -> str:
        return str((await create_item(api, owner, **body))["id"])

    own = await item(alice, end_at="2026-03-01T10:00:00Z")
    weekly = await item(alice, title="Weekly", recurrence="FREQ=WEEKLY;COUNT=10")
    deleted_own = await item(alice)
    shared = await item(bob, start_at="2026-03-01T10:30:00Z")
    pending = await item(bob)
    shared_then_deleted = await item(bob)
    revoked = await item(carol)
    await item(bob, title="Bob's alone")
    for item_id in (shared, shared_then_deleted):
        await subscribe(api, bob, alice, item_id)
    ok(await share(api, bob, pending, alice.email))
    await subscribe(api, carol, alice, revoked)
    await subscribe(api, alice, bob, own, edit=True)  # her own item, shared: still hers once
    for owner, item_id in ((alice, deleted_own), (bob, shared_then_deleted)):
        ok(await api.rest("DELETE", f"/schedule-items/{item_id}", owner.access_token), 204)
    path = f"/schedule-items/{revoked}/subscribers/{alice.id}"
    ok(await api.rest("DELETE", path, carol.access_token), 204)
    return {own, weekly, shared}


async def test_the_rule_finds_own_items_and_accepted_shares_only(
    alice: Account, seen_by_alice: set[str]
) -> None:
    ids = await readable_items(uuid.UUID(alice.id)).values_list("id", flat=True)
    assert {str(i) for i in ids} == seen_by_alice


@pytest.mark.parametrize(("start", "end"), RANGES)
async def test_the_list_query_and_the_rule_agree_on_every_range(
    alice: Account, seen_by_alice: set[str], start: datetime | None, end: datetime | None
) -> None:
    user_id = uuid.UUID(alice.id)
    listed = await list_item_rows(user_id, start, end)  # the UNION on PostgreSQL
    ruled = await _orm_rows(user_id, start, end)  # readable_items, filtered by the range
    assert [(r.id, r.permission) for r in listed] == [(r.id, r.permission) for r in ruled]
    assert {str(r.id) for r in listed} <= seen_by_alice
    if start is None and end is None:
        assert {str(r.id) for r in listed} == seen_by_alice
