"""Who may see and do what to a schedule item: the one visibility rule and the one
authorization function (docs/contract.md §3).

Permission bits: view 1, invite 2, edit 4; the owner holds all three. An item the caller cannot
see is "not found" (404 / NOT_FOUND) so that its existence does not leak; 403 is only for an
item the caller can see but may not change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from models import ScheduleItem, ScheduleSubscription
from models.schedule import ALL_PERMISSIONS, EDIT, INVITE, VIEW
from resolvers.errors import Forbidden, NotFound
from resolvers.recurrence import Occurrence

NOT_FOUND = "Schedule item not found."


@dataclass(frozen=True, slots=True)
class VisibleItem:
    """An item together with the caller's permission bits on it."""

    item: ScheduleItem
    permission: int
    is_owner: bool
    # Set when the answer is one occurrence of a recurring item (PATCH ?occurrence=).
    occurrence: Occurrence | None = None

    def can(self, bit: int) -> bool:
        return bool(self.permission & bit)


def bits(*, view: bool, invite: bool, edit: bool) -> int:
    return (VIEW if view else 0) | (INVITE if invite else 0) | (EDIT if edit else 0)


async def permissions_for(
    user_id: uuid.UUID, items: Iterable[ScheduleItem]
) -> dict[uuid.UUID, int]:
    """The caller's bits on each item (0 when none), in one query for any number of items."""
    result: dict[uuid.UUID, int] = {}
    shared_ids = []
    for item in items:
        if item.deleted_at is not None:
            result[item.id] = 0
        elif item.owner_id == user_id:
            result[item.id] = ALL_PERMISSIONS
        else:
            result[item.id] = 0
            shared_ids.append(item.id)
    if shared_ids:
        rows = await ScheduleSubscription.filter(user_id=user_id, item_id__in=shared_ids)
        for row in rows:
            result[row.item_id] = row.permission
    return result


async def held_by_users(item: ScheduleItem, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each user's bits on one item (0 when none), deleted or not, in one query for any number
    of users (none when they are all the owner): the live streams check all of an item's
    subscribers at once. Callers that need visibility also look at `item.deleted_at`."""
    result = {user_id: 0 for user_id in user_ids}
    guests = [user_id for user_id in result if user_id != item.owner_id]
    if item.owner_id in result:
        result[item.owner_id] = ALL_PERMISSIONS
    if guests:
        rows = await ScheduleSubscription.filter(item_id=item.id, user_id__in=guests).values_list(
            "user_id", "permission"
        )
        for user_id, permission in rows:  # the driver's UUID (asyncpg) or str (SQLite)
            result[uuid.UUID(str(user_id))] = permission
    return result


def readable_items(user_id: uuid.UUID) -> QuerySet[ScheduleItem]:
    """The visibility rule as a query: the items the user owns or has accepted a share of (a
    share always carries view), not deleted. Getting one item and listing them (on SQLite)
    filter this query; the PostgreSQL list runs it as a UNION of its two halves, so each uses
    its index (resolvers/schedule_listing.py; tests/test_readable_items.py holds them equal)."""
    shared = Subquery(ScheduleSubscription.filter(user_id=user_id).values("item_id"))
    return ScheduleItem.filter(Q(owner_id=user_id) | Q(id__in=shared), deleted_at=None)


async def visible_item(user_id: uuid.UUID, item_id: uuid.UUID) -> VisibleItem:
    """The item if the caller may see it, else NotFound."""
    item = await readable_items(user_id).get_or_none(id=item_id)
    if item is None:
        raise NotFound(NOT_FOUND)
    permission = (await permissions_for(user_id, [item]))[item.id]
    if not permission & VIEW:
        raise NotFound(NOT_FOUND)
    return VisibleItem(item, permission, is_owner=item.owner_id == user_id)


async def item_for(user_id: uuid.UUID, item_id: uuid.UUID, needs: int = VIEW) -> VisibleItem:
    """The item if the caller holds `needs` on it: 404 when invisible, 403 when only visible."""
    visible = await visible_item(user_id, item_id)
    if needs & ~visible.permission:
        raise Forbidden("You do not have permission to do this to the schedule item.")
    return visible


async def owned_item(user_id: uuid.UUID, item_id: uuid.UUID) -> VisibleItem:
    """The item if the caller owns it: 404 when invisible, 403 for other viewers."""
    visible = await visible_item(user_id, item_id)
    if not visible.is_owner:
        raise Forbidden("Only the owner can do this to the schedule item.")
    return visible
