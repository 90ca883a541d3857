"""Listing a user's schedule items: the hottest read of the API, built for speed.

One query returns the items with the caller's permission bits and the owner's public profile,
as plain rows: no ORM objects (building Tortoise models costs more than the query itself), and
no second query for permissions or owners. On PostgreSQL the query is a UNION of "items I own"
(index on `(owner_id, start_at)`) and "items shared with me" (index on
`schedule_subscriptions.user_id`), so its cost follows the caller's items, not the table's size;
an `owner = me OR id IN (shares)` filter would scan the whole table. SQLite (the embedded
default) runs the same rule through the ORM.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from tortoise import connections
from tortoise.expressions import Q, Subquery

from models import ScheduleItem, ScheduleSubscription
from models.schedule import ALL_PERMISSIONS


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
    owner_username: str
    owner_avatar_url: str | None
    owner_bio: str | None
    permission: int


_COLUMNS = (
    "i.id, i.title, i.description, i.start_at, i.end_at, i.timezone, i.metadata, i.status, "
    "i.source_type, i.created_at, i.updated_at, i.owner_id, "
    "u.username AS owner_username, u.avatar_url AS owner_avatar_url, u.bio AS owner_bio"
)


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
        conditions += f" AND (i.start_at >= ${n} OR i.end_at > ${n})"
    sql = (
        f"SELECT {_COLUMNS}, {ALL_PERMISSIONS} AS permission FROM schedule_items i "
        f"JOIN users u ON u.id = i.owner_id WHERE i.owner_id = $1 AND {conditions} "
        "UNION ALL "
        f"SELECT {_COLUMNS}, s.permission FROM schedule_subscriptions s "
        "JOIN schedule_items i ON i.id = s.item_id JOIN users u ON u.id = i.owner_id "
        f"WHERE s.user_id = $1 AND i.owner_id <> $1 AND {conditions} "
        "ORDER BY start_at, id"
    )
    return sql, params


def _row(values: Any) -> ItemRow:
    """A row of `_COLUMNS` + permission (an asyncpg Record), its JSON column decoded."""
    metadata = values[6]
    if isinstance(metadata, str | bytes):
        metadata = orjson.loads(metadata)
    return ItemRow._make((*values[:6], metadata, *values[7:]))


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
    shared = Subquery(ScheduleSubscription.filter(user_id=user_id).values("item_id"))
    query = ScheduleItem.filter(Q(owner_id=user_id) | Q(id__in=shared), deleted_at=None)
    if end is not None:
        query = query.filter(start_at__lt=end)
    if start is not None:
        query = query.filter(Q(start_at__gte=start) | Q(end_at__gt=start))
    items = await query.order_by("start_at", "id").select_related("owner")
    bits = {
        row.item_id: row.permission
        for row in await ScheduleSubscription.filter(
            user_id=user_id, item_id__in=[i.id for i in items if i.owner_id != user_id]
        )
    }
    return [
        ItemRow(
            id=item.id,
            title=item.title,
            description=item.description,
            start_at=item.start_at,
            end_at=item.end_at,
            timezone=item.timezone,
            metadata=item.metadata,
            status=item.status,
            source_type=item.source_type,
            created_at=item.created_at,
            updated_at=item.updated_at,
            owner_id=item.owner_id,
            permission=ALL_PERMISSIONS if item.owner_id == user_id else bits.get(item.id, 0),
            owner_username=item.owner.username,
            owner_avatar_url=item.owner.avatar_url,
            owner_bio=item.owner.bio,
        )
        for item in items
    ]
