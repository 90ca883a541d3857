"""Batch reads for the GraphQL data loaders: one query for any number of keys, results in key
order, so a query's statement count does not grow with the number of objects in it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from models import ScheduleItem, ScheduleSubscription, User
from resolvers.access import VisibleItem, permissions_for


async def users_by_id(ids: Sequence[uuid.UUID]) -> list[User | None]:
    found = {user.id: user for user in await User.filter(id__in=list(set(ids)))}
    return [found.get(i) for i in ids]


async def subscriptions_by_item(item_ids: Sequence[uuid.UUID]) -> list[list[ScheduleSubscription]]:
    grouped: dict[uuid.UUID, list[ScheduleSubscription]] = defaultdict(list)
    rows = await ScheduleSubscription.filter(item_id__in=list(set(item_ids))).order_by(
        "created_at", "id"
    )
    for row in rows:
        grouped[row.item_id].append(row)
    return [grouped.get(i, []) for i in item_ids]


async def items_by_id(viewer_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[VisibleItem | None]:
    """Live items with the viewer's bits (which may be 0, e.g. for a pending invitation)."""
    items = await ScheduleItem.filter(id__in=list(set(ids)), deleted_at=None)
    permissions = await permissions_for(viewer_id, items)
    found = {
        item.id: VisibleItem(item, permissions[item.id], is_owner=item.owner_id == viewer_id)
        for item in items
    }
    return [found.get(i) for i in ids]
