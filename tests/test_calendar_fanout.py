"""The calendar's live events fan out through one hub per source (subscriptions/live_hub.py):
one change of a shared item, or one inbox message, costs the same SQL statements for 1, 10 or
50 subscribers, and every subscriber still gets exactly its own events, in order, once.

The statement counts drive the streams in-process (`live.schedule_item_changes` and
`live.inbox_messages`, what the GraphQL subscriptions iterate); the delivery tests go over
real websockets."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.pubsub import RESYNC
from infra.services import Services
from models import AuthSession, InboxMessage, ScheduleItem, ScheduleSubscription, User
from models.schedule import ALL_PERMISSIONS
from resolvers import events
from resolvers.sessions import open_session
from resolvers.viewer import Viewer, authenticate
from subscriptions import live
from tests.support.client import Account, Api
from tests.support.live_server import (
    PROTOCOLS,
    GqlSocket,
    auth_payload,
    gql_socket,
    listening,
    live_server,
)
from tests.support.sql_counter import count_statements

SIZES = (1, 10, 50)
WAIT_S = 5.0

# --- in-process: statements per event ---------------------------------------------------------


@dataclass
class Stream:
    """One live stream read by a task of its own; what it yielded, and whether it ended."""

    viewer: Viewer
    seen: list[Any] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self, stream: AsyncIterator[Any]) -> None:
        async def read() -> None:
            async for value in stream:
                self.seen.append(value)

        self.task = asyncio.create_task(read())

    @property
    def ended(self) -> bool:
        return self.task is not None and self.task.done()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():  # noqa: ASYNC110 (conditions over several tasks' state)
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _streams(
    viewers: list[Viewer], open_stream: Callable[[Viewer], AsyncIterator[Any]]
) -> AsyncIterator[list[Stream]]:
    streams = [Stream(v) for v in viewers]
    for stream in streams:
        stream.start(open_stream(stream.viewer))
    try:
        yield streams
    finally:
        for stream in streams:
            assert stream.task is not None
            stream.task.cancel()
        await asyncio.gather(*(s.task for s in streams if s.task), return_exceptions=True)


async def _viewer(services: Services, account: Account) -> Viewer:
    return await authenticate(services, account.access_token)


async def _shared_item(api: Api, guests: int) -> tuple[ScheduleItem, Viewer, list[Viewer]]:
    """An item of a new owner, shared (accepted, view + invite) with `guests` new users."""
    services = api.services
    assert services is not None
    owner = await api.quick_user()
    item = await ScheduleItem.create(
        owner_id=uuid.UUID(owner.id), title="v0", start_at=datetime(2026, 5, 1, 10, tzinfo=UTC)
    )
    viewers = []
    for _ in range(guests):
        guest = await api.quick_user()
        await ScheduleSubscription.create(
            item_id=item.id, user_id=uuid.UUID(guest.id), permission=3
        )
        viewers.append(await _viewer(services, guest))
    return item, await _viewer(services, owner), viewers


_BACKGROUND = ('"agent_runs"',)  # the in-server agent worker's sweeps, on a timer of their own


async def _measured(publish: Callable[[], Awaitable[None]], done: Callable[[], bool]) -> int:
    """SQL statements from publishing an event until every stream handled it."""
    with count_statements() as statements:
        await publish()
        await _until(done)
        await asyncio.sleep(0.05)  # anything late would be counted too
    return sum(not any(table in s for table in _BACKGROUND) for s in statements)


async def _listening(services: Services, channel: str, count: int) -> None:
    await _until(lambda: live.listeners(services.events, channel) == count)


async def _retitle(item: ScheduleItem, title: str) -> None:
    """Change the row as an edit does (a queryset update leaves `updated_at` alone)."""
    await ScheduleItem.filter(id=item.id).update(title=title, updated_at=datetime.now(UTC))


async def _item_costs(api: Api, guests: int) -> dict[str, int]:
    """Statements per event for the owner, `guests` guests and one more guest (who loses
    access) of one item: a change, a change after the leaver's access ended, a resync after a
    lost change, a resync after nothing, and the deletion."""
    services = api.services
    assert services is not None
    item, owner, viewers = await _shared_item(api, guests + 1)
    channel = events.item_channel(item.id)
    costs: dict[str, int] = {}

    def open_stream(viewer: Viewer) -> AsyncIterator[Any]:
        return live.schedule_item_changes(services, viewer, item.id)

    async with _streams([owner, *viewers], open_stream) as streams:
        await _listening(services, channel, len(streams))
        everyone, leaver, stayers = streams, streams[-1], streams[:-1]

        async def changed(kind: str = "UPDATED") -> None:
            await events.schedule_item_changed(services, item.id, kind)

        async def resync() -> None:
            await services.events.publish(channel, RESYNC)

        # A probe heard by all tells that every stream is past its own start-up check.
        await _retitle(item, "probe")
        await changed()
        await _until(lambda: all(len(s.seen) == 1 for s in everyone))
        for stream in everyone:
            stream.seen.clear()

        await _retitle(item, "v1")
        costs["updated"] = await _measured(changed, lambda: all(len(s.seen) == 1 for s in everyone))

        await ScheduleSubscription.filter(item_id=item.id, user_id=leaver.viewer.user_id).delete()
        await _retitle(item, "v2")
        costs["access ended"] = await _measured(
            changed, lambda: leaver.ended and all(len(s.seen) == 2 for s in stayers)
        )

        await _retitle(item, "v3")  # its notification is lost
        costs["resync"] = await _measured(resync, lambda: all(len(s.seen) == 3 for s in stayers))

        heard_before = sum(len(s.seen) for s in streams)
        costs["resync, unchanged"] = await _measured(resync, lambda: True)
        await asyncio.sleep(0.2)
        assert sum(len(s.seen) for s in streams) == heard_before  # nothing to report

        await ScheduleItem.filter(id=item.id).update(deleted_at=datetime.now(UTC))
        costs["deleted"] = await _measured(
            lambda: changed("DELETED"), lambda: all(s.ended for s in everyone)
        )

    # What each one saw: its own bits, every change once, in order; the leaver nothing after
    # its access ended, not even the deletion.
    for stream in stayers:
        is_owner = stream.viewer == owner
        bits = ALL_PERMISSIONS if is_owner else 3
        assert [(kind, v.item.title, v.permission, v.is_owner) for kind, v in stream.seen] == [
            ("UPDATED", "v1", bits, is_owner),
            ("UPDATED", "v2", bits, is_owner),
            ("UPDATED", "v3", bits, is_owner),
            ("DELETED", "v3", bits, is_owner),
        ]
    assert [(kind, v.item.title) for kind, v in leaver.seen] == [("UPDATED", "v1")]
    await _listening(services, channel, 0)
    return costs


async def test_an_item_event_costs_the_same_statements_for_1_10_and_50_subscribers(
    api: Api,
) -> None:
    costs = {size: await _item_costs(api, size) for size in SIZES}
    assert costs[1] == costs[10] == costs[50], costs
    for kind, statements in costs[50].items():
        assert 1 <= statements <= 3, (kind, costs)


async def _inbox_costs(api: Api, users: int, sessions: int) -> dict[str, float]:
    """Statements per message for `users` users with `sessions` inbox streams each."""
    services = api.services
    assert services is not None
    sender = await api.quick_user()
    accounts = [await api.quick_user() for _ in range(users)]
    # One session per stream: a user may read its inbox on several devices.
    viewers = [
        await _viewer(services, a if i == 0 else await _session_of(api, a))
        for a in accounts
        for i in range(sessions)
    ]
    costs: dict[str, float] = {}

    async def send(to: Account, content: str, notify: bool = True) -> None:
        message = await InboxMessage.create(
            recipient_id=uuid.UUID(to.id),
            sender_id=uuid.UUID(sender.id),
            message_type="friend_request",
            content=content,
        )
        if notify:
            await events.inbox_message_created(services, message.recipient_id, message.id)

    def open_stream(viewer: Viewer) -> AsyncIterator[Any]:
        return live.inbox_messages(services, viewer)

    async with _streams(viewers, open_stream) as streams:
        for account in accounts:
            await _listening(services, events.inbox_channel(uuid.UUID(account.id)), sessions)

        # The rows are written first, so that only the fan-out is counted.
        created = [
            await InboxMessage.create(
                recipient_id=uuid.UUID(a.id),
                sender_id=uuid.UUID(sender.id),
                message_type="friend_request",
                content="first",
            )
            for a in accounts
        ]

        async def notify_all() -> None:
            for message in created:
                await events.inbox_message_created(services, message.recipient_id, message.id)

        total = await _measured(notify_all, lambda: all(len(s.seen) == 1 for s in streams))
        costs["message"] = total / users

        for account in accounts:  # while Redis is away: stored, not notified
            await send(account, "missed", notify=False)

        async def resync_all() -> None:
            for account in accounts:
                channel = events.inbox_channel(uuid.UUID(account.id))
                await services.events.publish(channel, RESYNC)

        total = await _measured(resync_all, lambda: all(len(s.seen) == 2 for s in streams))
        costs["resync"] = total / users
        # A second notification of a message already delivered is not delivered again.
        await events.inbox_message_created(services, created[0].recipient_id, created[0].id)
        await asyncio.sleep(0.1)

    for stream in streams:
        assert [m.content for m in stream.seen] == ["first", "missed"]
        assert {m.recipient_id for m in stream.seen} == {stream.viewer.user_id}
    return costs


async def _session_of(api: Api, account: Account) -> Account:
    """Another session of the same user."""
    assert api.services is not None
    user = await User.get(id=account.id)
    tokens = await open_session(api.services, user)
    return Account(
        account.id, account.username, account.email, "", tokens.access_token, tokens.refresh_token
    )


async def test_inbox_messages_cost_the_same_statements_whatever_the_subscribers(
    api: Api,
) -> None:
    by_sessions = {n: await _inbox_costs(api, users=1, sessions=n) for n in SIZES}
    by_users = {n: await _inbox_costs(api, users=n, sessions=1) for n in (1, 10)}
    assert by_sessions[1] == by_sessions[10] == by_sessions[50], by_sessions
    assert by_users[1] == by_users[10] == by_sessions[1], by_users
    assert by_sessions[1]["message"] == 1 and by_sessions[1]["resync"] <= 3, by_sessions


async def test_streams_join_and_leave_a_running_hub(api: Api) -> None:
    """A stream that joins mid-way hears the changes after it joined; one that leaves does not
    disturb the others; the hub lets go of the channel with the last one."""
    services = api.services
    assert services is not None
    item, owner, (early, late) = await _shared_item(api, 2)
    channel = events.item_channel(item.id)

    def open_stream(viewer: Viewer) -> AsyncIterator[Any]:
        return live.schedule_item_changes(services, viewer, item.id)

    async def change(title: str) -> None:
        await _retitle(item, title)
        await events.schedule_item_changed(services, item.id, "UPDATED")

    async with _streams([owner, early], open_stream) as (owners, earlies):
        await _listening(services, channel, 2)
        await change("one")
        await _until(lambda: len(owners.seen) == len(earlies.seen) == 1)
        async with _streams([late], open_stream) as (lates,):
            await _listening(services, channel, 3)
            await change("two")
            await _until(
                lambda: len(owners.seen) == len(earlies.seen) == 2 and len(lates.seen) == 1
            )
            assert earlies.task is not None
            earlies.task.cancel()  # the early one leaves
            await _listening(services, channel, 2)
            await change("three")
            await _until(lambda: len(owners.seen) == 3 and len(lates.seen) == 2)
        await _listening(services, channel, 1)
    await _listening(services, channel, 0)
    await _until(lambda: channel not in services.events._local)  # the hub's subscription ended
    titles = [[v.item.title for _, v in s.seen] for s in (owners, earlies, lates)]
    assert titles == [["one", "two", "three"], ["one", "two"], ["two", "three"]]


async def test_a_revoked_session_ends_at_a_resync(api: Api) -> None:
    """Revocations may be lost with the notifications: a resync checks the sessions too."""
    services = api.services
    assert services is not None
    item, owner, (guest,) = await _shared_item(api, 1)

    def open_stream(viewer: Viewer) -> AsyncIterator[Any]:
        return live.schedule_item_changes(services, viewer, item.id)

    async with _streams([owner, guest], open_stream) as (owners, guests):
        channel = events.item_channel(item.id)
        await _listening(services, channel, 2)
        await AuthSession.filter(id=guest.session_id).update(revoked_at=datetime.now(UTC))
        await _retitle(item, "after")
        await services.events.publish(channel, RESYNC)
        await _until(lambda: guests.ended and len(owners.seen) == 1)
    assert guests.seen == []
    assert owners.seen[0][1].item.title == "after"


# --- over websockets: every subscriber gets exactly its events --------------------------------

ITEM_SUBSCRIPTION = (
    "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind item { id title permission } } }"
)
INBOX_SUBSCRIPTION = "subscription { inboxMessages { id content recipient { id } } }"


async def _next(socket: GqlSocket, op: str) -> Any:
    event = await socket.event(op)
    assert event.kind == "next" and not event.errors, event
    return next(iter(event.data.values()))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_each_subscriber_of_a_shared_item_gets_its_changes_once_in_order(
    api: Api, app: Any, protocol: str
) -> None:
    item, owner_viewer, guest_viewers = await _shared_item(api, 4)
    accounts = [await _account_of(api, v) for v in (owner_viewer, *guest_viewers)]
    item_id = str(item.id)
    async with live_server(app) as url, contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(gql_socket(url, protocol, auth_payload(a.access_token)))
            for a in accounts
        ]
        ops = [await s.subscribe(ITEM_SUBSCRIPTION, {"id": item_id}) for s in sockets]
        await listening(app, events.item_channel(item.id), count=len(sockets))
        owner_account, leaver = accounts[0], accounts[-1]
        seen: list[list[Any]] = [[] for _ in sockets]

        async def change(title: str, active: int) -> None:
            body = await api.rest(
                "PATCH",
                f"/schedule-items/{item_id}",
                owner_account.access_token,
                json={"title": title},
            )
            assert body.status_code == 200, body.text
            for i in range(active):
                seen[i].append(await _next(sockets[i], ops[i]))

        for n in range(1, 4):
            await change(f"v{n}", len(sockets))
        await ScheduleSubscription.filter(item_id=item.id, user_id=uuid.UUID(leaver.id)).delete()
        await change("v4", len(sockets) - 1)
        ended = await sockets[-1].event(ops[-1])
        assert ended.kind == "complete", ended  # without "v4"
        await change("v5", len(sockets) - 1)
        deleted = await api.rest("DELETE", f"/schedule-items/{item_id}", owner_account.access_token)
        assert deleted.status_code == 204, deleted.text
        for i in range(len(sockets) - 1):
            seen[i].append(await _next(sockets[i], ops[i]))
            assert (await sockets[i].event(ops[i])).kind == "complete"
        await listening(app, events.item_channel(item.id), count=0)

    for i, changes in enumerate(seen):
        bits = 7 if i == 0 else 3
        if i == len(seen) - 1:  # the leaver
            titles, kinds = ["v1", "v2", "v3"], ["UPDATED"] * 3
        else:
            titles, kinds = ["v1", "v2", "v3", "v4", "v5", "v5"], ["UPDATED"] * 5 + ["DELETED"]
        assert [c["item"]["title"] for c in changes] == titles, (i, changes)
        assert [c["kind"] for c in changes] == kinds, (i, changes)
        assert {c["item"]["permission"] for c in changes} == {bits}
        assert {c["item"]["id"] for c in changes} == {item_id}


async def _account_of(api: Api, viewer: Viewer) -> Account:
    """A token for the viewer's user (a new session of it)."""
    return await _session_of(api, Account(str(viewer.user_id), "", "", "", "", ""))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_each_inbox_subscriber_gets_its_own_messages_once(
    api: Api, app: Any, protocol: str
) -> None:
    owner = await api.quick_user()
    users = [await api.quick_user() for _ in range(4)]
    created = await api.rest(
        "POST",
        "/schedule-items",
        owner.access_token,
        json={"title": "Offsite", "start_at": "2026-03-01T09:00:00Z"},
    )
    item_id = created.json()["id"]
    async with live_server(app) as url, contextlib.AsyncExitStack() as stack:
        # Two sockets for the first user (two devices), one for each of the others.
        holders = [users[0], *users]
        sockets = [
            await stack.enter_async_context(gql_socket(url, protocol, auth_payload(u.access_token)))
            for u in holders
        ]
        ops = [await s.subscribe(INBOX_SUBSCRIPTION) for s in sockets]
        await listening(app, events.inbox_channel(uuid.UUID(users[0].id)), count=2)
        for user in users[1:]:
            await listening(app, events.inbox_channel(uuid.UUID(user.id)))
        for user in users:
            shared = await api.rest(
                "POST",
                f"/schedule-items/{item_id}/share",
                owner.access_token,
                json={"email": user.email},
            )
            assert shared.status_code == 200, shared.text
        received = [await _next(s, op) for s, op in zip(sockets, ops, strict=True)]
        for socket, op in zip(sockets, ops, strict=True):
            assert await socket.silent(op, 0.2)  # once, and nobody else's
    for holder, message in zip(holders, received, strict=True):
        assert message["recipient"]["id"] == holder.id
    assert received[0]["id"] == received[1]["id"]
    assert len({m["id"] for m in received[1:]}) == len(users)
