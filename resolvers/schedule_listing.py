"""Listing a user's schedule items: the hottest read of the API, built for speed.

One query returns the items with the caller's permission bits and the owner's public profile,
as plain rows: no ORM objects (building Tortoise models costs more than the query itself), and
no second query for permissions or owners. On PostgreSQL the query is a UNION of "items I own"
(index on `(owner_id, start_at)`) and "items shared with me" (index on
`schedule_subscriptions.user_id`), so its cost follows the caller's items, not the table's size;
an `owner = me OR id IN (shares)` filter would scan the whole table. That UNION is the two halves
of `resolvers.access.readable_items`, the visibility rule, which SQLite (the embedded default)
runs as it is; tests/test_readable_items.py holds the two equal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from tortoise import connections
from tortoise.expressions import Q

from models import User
from models.schedule import ALL_PERMISSIONS
from resolvers.access import VisibleItem, permissions_for, readable_items


class ItemRow(NamedTuple):
    # A tuple, in the order of the query's columns: building one costs a fraction of a frozen
    # dataclass (which sets each field through object.__setattr__), and 50 are built per list.
    id: uuid.UUID
    title: str
    description: str | None
    start_at: datetime
    end_at: datetime | None
    timezone: str
    metadata: dict[str, Any]
    status: str
    source_type: str
    created_at: datetime
    updated_at: datetime
    owner_id: uuid.UUID
    # The owner's public profile, when the query that found the item read it (lists do).
    owner_username: str | None
    owner_avatar_url: str | None
    owner_bio: str | None
    permission: int
    all_day: bool
    recurrence: str | None
    exdates: list[str] | None
    overrides: dict[str, dict[str, Any]] | None
    series_end_at: datetime | None
    # Set on list entries: which occurrence of the item this entry is (resolvers/schedule.py).
    occurrence_start_at: datetime | None = None
    occurrence_end_at: datetime | None = None
    original_start_at: datetime | None = None


def item_row(visible: VisibleItem, owner: User | None = None) -> ItemRow:
    """The view of one item that every transport maps from: a list entry is one already; a
    single item (get, create, change, one occurrence's change) becomes one here, its
    occurrence's own fields applied. `owner`: when already read, for the owner's profile."""
    item, occurrence = visible.item, visible.occurrence
    changes = occurrence.changes if occurrence is not None else {}
    return ItemRow(
        id=item.id,
        title=changes.get("title", item.title),
        description=changes.get("description", item.description),
        start_at=item.start_at,
        end_at=item.end_at,
        timezone=item.timezone,
        metadata=changes.get("metadata", item.metadata),
        status=changes.get("status", item.status),
        source_type=item.source_type,
        created_at=item.created_at,
        updated_at=item.updated_at,
        owner_id=item.owner_id,
        owner_username=None if owner is None else owner.username,
        owner_avatar_url=None if owner is None else owner.avatar_url,
        owner_bio=None if owner is None else owner.bio,
        permission=visible.permission,
        all_day=item.all_day,
        recurrence=item.recurrence,
        exdates=item.exdates,
        overrides=item.overrides,
        series_end_at=item.series_end_at,
        occurrence_start_at=None if occurrence is None else occurrence.start_at,
        occurrence_end_at=None if occurrence is None else occurrence.end_at,
        original_start_at=None if occurrence is None else occurrence.original_start_at,
    )


_COLUMNS = (
    "i.id, i.title, i.description, i.start_at, i.end_at, i.timezone, i.metadata, i.status, "
    "i.source_type, i.created_at, i.updated_at, i.owner_id, "
    "u.username AS owner_username, u.avatar_url AS owner_avatar_url, u.bio AS owner_bio"
)
# After the permission column.
_SERIES_COLUMNS = "i.all_day, i.recurrence, i.exdates, i.overrides, i.series_end_at"


def _postgres_query(start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    """`$1` is the caller; the range bounds follow. Overlap: the item starts before the range
    ends, and starts inside the range or is still running when it starts."""
    params: list[Any] = []
    conditions = "i.deleted_at IS NULL"
    if end is not None:
        params.append(end)
        conditions += f" AND i.start_at < ${len(params) + 1}"
    if start is not None:
        params.append(start)
        n = len(params) + 1
        # A series overlaps while it has occurrences left: its first start (start_at) is its
        # earliest, since no occurrence may move before it.
        conditions += (
            f" AND (i.start_at >= ${n} OR i.end_at > ${n} OR (i.recurrence IS NOT NULL"
            f" AND (i.series_end_at IS NULL OR i.series_end_at > ${n})))"
        )
    sql = (
        f"SELECT {_COLUMNS}, {ALL_PERMISSIONS} AS permission, {_SERIES_COLUMNS} "
        "FROM schedule_items i "
        f"JOIN users u ON u.id = i.owner_id WHERE i.owner_id = $1 AND {conditions} "
        "UNION ALL "
        f"SELECT {_COLUMNS}, s.permission, {_SERIES_COLUMNS} FROM schedule_subscriptions s "
        "JOIN schedule_items i ON i.id = s.item_id JOIN users u ON u.id = i.owner_id "
        f"WHERE s.user_id = $1 AND i.owner_id <> $1 AND {conditions} "
        "ORDER BY start_at, id"
    )
    return sql, params


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _row(values: Any) -> ItemRow:
    """A row of `_COLUMNS` + permission + `_SERIES_COLUMNS` (an asyncpg Record), its JSON
    columns decoded."""
    return ItemRow(
        *(
            *values[:6],
            _json(values[6]),
            *values[7:18],
            _json(values[18]),
            _json(values[19]),
            values[20],
        )
    )


async def list_item_rows(
    user_id: uuid.UUID, start: datetime | None, end: datetime | None
) -> list[ItemRow]:
    """Own items and accepted shares, not deleted, overlapping [start, end), by start time."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        sql, params = _postgres_query(start, end)
        # asyncpg directly: Tortoise's execute_query_dict copies every record into a dict.
        async with connection.acquire_connection() as raw:
            records = await raw.fetch(sql, user_id, *params)
        return [_row(record) for record in records]
    return await _orm_rows(user_id, start, end)


async def _orm_rows(
    user_id: uuid.UUID, start: datetime | None, end: datetime | None
) -> list[ItemRow]:
    query = readable_items(user_id)
    if end is not None:
        query = query.filter(start_at__lt=end)
    if start is not None:
        series = Q(recurrence__isnull=False) & (
            Q(series_end_at__isnull=True) | Q(series_end_at__gt=start)
        )
        query = query.filter(Q(start_at__gte=start) | Q(end_at__gt=start) | series)
    items = await query.order_by("start_at", "id").select_related("owner")
    bits = await permissions_for(user_id, items)
    return [
        item_row(VisibleItem(item, bits[item.id], item.owner_id == user_id), item.owner)
        for item in items
    ]
