"""The live streams behind `inboxMessages` and `scheduleItemChanged`.

Each stream listens on the event bus (Redis pub/sub across processes, in-process otherwise),
then reads the current row and re-checks access for every event: a notification never carries
data, and a user whose access ends stops receiving changes.

After a Redis outage the event bus sends `RESYNC` (notifications may have been lost): the inbox
stream then delivers, from the database, the messages created since it started that it has not
delivered yet, and the item stream re-reads the item and reports it when it changed meanwhile.
So a subscriber that stays connected through a Redis restart misses nothing.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from infra.pubsub import RESYNC
from infra.services import Services
from models import AuthSession, InboxMessage, ScheduleItem, ScheduleSubscription
from models.schedule import ALL_PERMISSIONS, VIEW
from resolvers import events
from resolvers.access import VisibleItem, visible_item
from resolvers.errors import NotFound
from resolvers.viewer import Viewer


async def _signed_in(viewer: Viewer) -> bool:
    """A socket authenticates once; its streams end when that session is revoked (sign-out,
    password recovery) instead of running on until the socket closes."""
    return await AuthSession.filter(id=viewer.session_id, revoked_at=None).exists()


_DELIVERED_MEMORY = 1000  # ids remembered per inbox stream, to deliver each message once


async def inbox_messages(services: Services, viewer: Viewer) -> AsyncIterator[InboxMessage]:
    async with services.events.subscribe(events.inbox_channel(viewer.user_id)) as queue:
        since = datetime.now(UTC)
        delivered: deque[uuid.UUID] = deque(maxlen=_DELIVERED_MEMORY)
        while True:
            event = await queue.get()
            if not await _signed_in(viewer):
                return
            if event.get("kind") == RESYNC["kind"]:
                missed = (
                    await InboxMessage.filter(recipient_id=viewer.user_id, created_at__gte=since)
                    .order_by("created_at")
                    .limit(_DELIVERED_MEMORY)
                )
                fresh = [m for m in missed if m.id not in delivered]
            else:
                message = await InboxMessage.get_or_none(
                    id=event["message_id"], recipient_id=viewer.user_id
                )
                fresh = [message] if message is not None and message.id not in delivered else []
            for message in fresh:
                delivered.append(message.id)
                yield message


async def _held(viewer: Viewer, item: ScheduleItem) -> int:
    """The caller's bits on a just-deleted item (access checks see a deleted item as gone)."""
    if item.owner_id == viewer.user_id:
        return ALL_PERMISSIONS
    share = await ScheduleSubscription.get_or_none(item_id=item.id, user_id=viewer.user_id)
    return share.permission if share is not None else 0


async def schedule_item_changes(
    services: Services, viewer: Viewer, item_id: uuid.UUID
) -> AsyncIterator[tuple[str, VisibleItem]]:
    """(kind, item) per change; ends after a deletion or when the caller loses access (someone
    whose access has ended does not hear of the deletion either)."""
    async with services.events.subscribe(events.item_channel(item_id)) as queue:
        last = await visible_item(viewer.user_id, item_id)  # NotFound before subscribing
        while True:
            event = await queue.get()
            if not await _signed_in(viewer):
                return
            if event["kind"] == RESYNC["kind"]:
                item = await ScheduleItem.get_or_none(id=item_id)
                if item is not None and item.deleted_at is not None:
                    event = {"kind": "DELETED"}  # deleted while notifications were lost
                else:
                    try:
                        current = await visible_item(viewer.user_id, item_id)
                    except NotFound:
                        return
                    if (current.item.updated_at, current.permission) == (
                        last.item.updated_at,
                        last.permission,
                    ):
                        continue  # nothing happened meanwhile
                    last = current
                    yield "UPDATED", last
                    continue
            if event["kind"] == "DELETED":
                item = await ScheduleItem.get_or_none(id=item_id)
                if item is not None and (permission := await _held(viewer, item)) & VIEW:
                    yield "DELETED", VisibleItem(item, permission, last.is_owner)
                return
            try:
                last = await visible_item(viewer.user_id, item_id)
            except NotFound:
                return  # the share ended: no more changes for this user
            yield "UPDATED", last
