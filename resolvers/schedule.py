"""Schedule items: create, range query, get, partial update, soft delete (docs/contract.md §3).

Datetimes without an offset are read in the item's IANA time zone; everything is stored and
returned in UTC. Changes are published so that `scheduleItemChanged` subscribers hear them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from infra.services import Services
from models import InboxMessage, ScheduleItem
from models.schedule import ALL_PERMISSIONS, EDIT
from resolvers import events
from resolvers.access import VisibleItem, item_for, owned_item, visible_item
from resolvers.calendar_inputs import CreateScheduleItem, ScheduleRange, UpdateScheduleItem
from resolvers.errors import BadRequest
from resolvers.schedule_listing import ItemRow, list_item_rows
from resolvers.viewer import Viewer

END_BEFORE_START = "end_at must not be before start_at."


def to_utc(value: datetime, zone: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


def _bound(value: datetime | date | None, *, end: bool) -> datetime | None:
    """A date alone is that UTC day's start, or for an end bound the next day's start."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_utc(value, "UTC")
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


async def create_item(
    viewer: Viewer, request: CreateScheduleItem, *, source_type: str = "manual"
) -> VisibleItem:
    start = to_utc(request.start_at, request.timezone)
    end = to_utc(request.end_at, request.timezone) if request.end_at else None
    if end is not None and end < start:
        raise BadRequest(END_BEFORE_START)
    item = await ScheduleItem.create(
        owner_id=viewer.user_id,
        title=request.title,
        description=request.description,
        start_at=start,
        end_at=end,
        timezone=request.timezone,
        metadata=request.metadata,
        source_type=source_type,
    )
    return VisibleItem(item, ALL_PERMISSIONS, is_owner=True)


async def list_items(viewer: Viewer, request: ScheduleRange) -> list[ItemRow]:
    """Own items and accepted shares, not deleted, overlapping the range, by start time."""
    range_start = _bound(request.start_at, end=False)
    range_end = _bound(request.end_at, end=True)
    if range_start is not None and range_end is not None and range_end < range_start:
        raise BadRequest(END_BEFORE_START)
    return await list_item_rows(viewer.user_id, range_start, range_end)


async def get_item(viewer: Viewer, item_id: uuid.UUID) -> VisibleItem:
    return await visible_item(viewer.user_id, item_id)


async def update_item(
    services: Services, viewer: Viewer, item_id: uuid.UUID, request: UpdateScheduleItem
) -> VisibleItem:
    visible = await item_for(viewer.user_id, item_id, needs=EDIT)
    item = visible.item
    changes: dict[str, Any] = request.changes()
    zone = changes.get("timezone") or item.timezone
    for field in ("start_at", "end_at"):
        if changes.get(field) is not None:
            changes[field] = to_utc(changes[field], zone)
    start = changes.get("start_at", item.start_at)
    end = changes.get("end_at", item.end_at)
    if end is not None and end < start:
        raise BadRequest(END_BEFORE_START)
    if changes:
        for field, value in changes.items():
            setattr(item, field, value)
        await item.save(update_fields=[*changes, "updated_at"])
        await events.schedule_item_changed(services, item.id, "UPDATED")
    return visible


async def delete_item(services: Services, viewer: Viewer, item_id: uuid.UUID) -> None:
    """Soft delete by the owner; the item is then 404 for everyone and pending invitations to
    it are void."""
    visible = await owned_item(viewer.user_id, item_id)
    now = datetime.now(UTC)
    async with in_transaction():
        await ScheduleItem.filter(id=visible.item.id, deleted_at=None).update(deleted_at=now)
        await InboxMessage.filter(schedule_item_id=visible.item.id, status="pending").update(
            status="dismissed", open_invitation=None
        )
    visible.item.deleted_at = now
    await events.schedule_item_changed(services, visible.item.id, "DELETED")
