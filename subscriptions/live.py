"""The live streams behind `inboxMessages` and `scheduleItemChanged`.

A notification never carries data: for each event the current row is read from the database
and access is re-checked, so a user whose access ends stops receiving changes. The streams of
one source (one item, one user's inbox) share a hub (`subscriptions/live_hub.py`): per event the
row is read once and access is checked for all of the source's subscribers in one query, then
each subscriber gets its own result (its permission bits) or its stream ends. SQL statements
per event: an item change 2 (the item, the shares of its non-owner subscribers), an inbox
message 1; after a Redis gap one more (the sessions, see below).

After a Redis outage the event bus sends `RESYNC` (notifications may have been lost): the inbox
stream then delivers, from the database, the messages created since it started that it has not
delivered yet, and the item stream re-reads the item and reports it when it changed meanwhile.
So a subscriber that stays connected through a Redis restart misses nothing.

Sessions: these streams run inside `until_signed_out` (subscriptions/session_bound.py), which
ends a stream the moment its session is revoked. A revocation reaches this process through the
same pub/sub subscription as the changes, in publish order, so a change made after a sign-out
is heard after the revocation and the stream has already ended. The streams therefore do not
look the session up per event (it was a statement per subscriber per event); only a `RESYNC`,
after which revocations may have been lost too, checks all subscribers' sessions, in the same
batch as the re-read.
"""

from __future__ import annotations

import uuid
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from infra.pubsub import RESYNC, EventBus
from infra.services import Services
from models import AuthSession, InboxMessage, ScheduleItem
from models.schedule import VIEW
from resolvers import events
from resolvers.access import VisibleItem, held_by_users, visible_item
from resolvers.viewer import Viewer
from subscriptions.live_hub import Hub, Hubs, Member

M = TypeVar("M", bound=Member[Any])

_DELIVERED_MEMORY = 1000  # ids remembered per inbox stream, to deliver each message once


async def _live_sessions(members: Sequence[Member[Any]]) -> set[uuid.UUID]:
    """Which of the members' sessions are not revoked, in one query."""
    ids = list({m.viewer.session_id for m in members})
    rows = await AuthSession.filter(id__in=ids, revoked_at=None).values_list("id", flat=True)
    return {uuid.UUID(str(i)) for i in rows}


async def _signed_in_only(members: list[M]) -> list[M]:
    """The members whose session is live; the others' streams end."""
    live = await _live_sessions(members)
    for member in members:
        if member.viewer.session_id not in live:
            member.end(discard=True)
    return [m for m in members if not m.ended]


# --- inbox -----------------------------------------------------------------------------------


class _InboxMember(Member[InboxMessage]):
    def __init__(self, viewer: Viewer) -> None:
        super().__init__(viewer)
        self.since = datetime.now(UTC)
        self.delivered: deque[uuid.UUID] = deque(maxlen=_DELIVERED_MEMORY)

    def deliver(self, message: InboxMessage) -> None:
        if message.id not in self.delivered:
            self.delivered.append(message.id)
            self.put(message)


class _InboxHub(Hub[_InboxMember]):
    def __init__(self, bus: EventBus, user_id: uuid.UUID, on_stop: Callable[[], None]) -> None:
        super().__init__(bus, events.inbox_channel(user_id), on_stop)
        self.user_id = user_id

    async def handle(self, event: dict[str, Any], members: list[_InboxMember]) -> None:
        if event.get("kind") == RESYNC["kind"]:
            members = await _signed_in_only(members)
            if not members:
                return
            since = min(m.since for m in members)
            missed = (
                await InboxMessage.filter(recipient_id=self.user_id, created_at__gte=since)
                .order_by("created_at")
                .limit(_DELIVERED_MEMORY)
            )
            for member in members:
                for message in missed:
                    if message.created_at >= member.since:
                        member.deliver(message)
            return
        found = await InboxMessage.get_or_none(id=event["message_id"], recipient_id=self.user_id)
        if found is not None:
            for member in members:
                member.deliver(found)


# --- schedule items --------------------------------------------------------------------------

Change = tuple[str, VisibleItem]


class _ItemMember(Member[Change]):
    def __init__(self, viewer: Viewer) -> None:
        super().__init__(viewer)
        self.last: tuple[datetime, int] | None = None  # (updated_at, bits) last reported

    def report(self, kind: str, visible: VisibleItem) -> None:
        self.last = (visible.item.updated_at, visible.permission)
        self.put((kind, visible))


class _ItemHub(Hub[_ItemMember]):
    def __init__(self, bus: EventBus, item_id: uuid.UUID, on_stop: Callable[[], None]) -> None:
        super().__init__(bus, events.item_channel(item_id), on_stop)
        self.item_id = item_id

    async def handle(self, event: dict[str, Any], members: list[_ItemMember]) -> None:
        kind = event.get("kind")
        if kind == RESYNC["kind"]:
            members = await _signed_in_only(members)
            if not members:
                return
        item = await ScheduleItem.get_or_none(id=self.item_id)
        if item is None:  # the row is gone: like a lost access, no more changes
            for member in members:
                member.end(discard=True)
            return
        if kind == "DELETED" or (kind == RESYNC["kind"] and item.deleted_at is not None):
            await self._deleted(item, members)  # (a RESYNC: deleted while notifications were lost)
        elif item.deleted_at is not None:
            for member in members:
                member.end(discard=True)
        else:
            # After a gap or a change of shares, only those whose view changed hear of it.
            only_if_new = kind in (RESYNC["kind"], events.ACCESS_CHANGED)
            await self._changed(item, members, only_if_new=only_if_new)

    async def _changed(
        self, item: ScheduleItem, members: list[_ItemMember], *, only_if_new: bool
    ) -> None:
        held = await held_by_users(item, {m.viewer.user_id for m in members})
        for member in members:
            user_id = member.viewer.user_id
            bits = held[user_id]
            if not bits & VIEW:
                member.end(discard=True)  # the share ended: no more changes for this user
            elif not (only_if_new and member.last == (item.updated_at, bits)):
                member.report("UPDATED", VisibleItem(item, bits, item.owner_id == user_id))

    async def _deleted(self, item: ScheduleItem, members: list[_ItemMember]) -> None:
        """The deletion goes to those who held VIEW on the item (an access check would see a
        deleted item as gone); someone whose access had ended does not hear of it."""
        held = await held_by_users(item, {m.viewer.user_id for m in members})
        for member in members:
            user_id = member.viewer.user_id
            if held[user_id] & VIEW:
                member.report("DELETED", VisibleItem(item, held[user_id], item.owner_id == user_id))
                member.end()
            else:
                member.end(discard=True)


# --- the hubs of each event bus, and the streams -----------------------------------------------

_inbox_hubs: weakref.WeakKeyDictionary[EventBus, Hubs[_InboxMember]] = weakref.WeakKeyDictionary()
_item_hubs: weakref.WeakKeyDictionary[EventBus, Hubs[_ItemMember]] = weakref.WeakKeyDictionary()


def _hubs_of_inbox(bus: EventBus) -> Hubs[_InboxMember]:
    hubs = _inbox_hubs.get(bus)
    if hubs is None:
        hubs = _inbox_hubs[bus] = Hubs(_InboxHub)
    return hubs


def _hubs_of_items(bus: EventBus) -> Hubs[_ItemMember]:
    hubs = _item_hubs.get(bus)
    if hubs is None:
        hubs = _item_hubs[bus] = Hubs(_ItemHub)
    return hubs


def listeners(bus: EventBus, channel: str) -> int:
    """How many streams of this process listen on an inbox or item channel (0 until their hub's
    subscription is in force). For tests and diagnostics."""
    for hubs in (_inbox_hubs.get(bus), _item_hubs.get(bus)):
        for hub in hubs.all() if hubs is not None else ():
            if hub.channel == channel and hub.subscribed:
                return len(hub.members)
    return 0


async def inbox_messages(services: Services, viewer: Viewer) -> AsyncIterator[InboxMessage]:
    """The caller's new inbox messages, each once, in the order they were heard."""
    hubs = _hubs_of_inbox(services.events)
    async with hubs.join(services.events, viewer.user_id, _InboxMember(viewer)) as member:
        async for message in member.results():
            yield message


async def schedule_item_changes(
    services: Services, viewer: Viewer, item_id: uuid.UUID
) -> AsyncIterator[tuple[str, VisibleItem]]:
    """(kind, item) per change; ends after a deletion or when the caller loses access (someone
    whose access has ended does not hear of the deletion either)."""
    hubs = _hubs_of_items(services.events)
    async with hubs.join(services.events, item_id, _ItemMember(viewer)) as member:
        first = await visible_item(viewer.user_id, item_id)  # NotFound once listening
        if member.last is None:  # (a change handled meanwhile is newer)
            member.last = (first.item.updated_at, first.permission)
        async for change in member.results():
            yield change
