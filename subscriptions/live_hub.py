"""One event-bus subscription per source and process, shared by all of that source's streams.

A source is one channel of the event bus (one schedule item's changes, one user's inbox). The
first stream that joins a source starts its hub: a task that subscribes to the channel once and
hands each event to `Hub.handle`, which reads what it needs for *all* current members at once
(a loader across subscriptions) and puts each member's own result in that member's queue, or
ends the member. So the database work per event does not grow with the number of subscribers.
The last member to leave stops the hub, which lets go of the channel.

A member is registered before the hub's subscription is confirmed and before the stream makes
its own start-up checks, so that no event published after `join` returns is missed: events
handled in between are queued for the member and delivered once it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

from infra.pubsub import EventBus
from resolvers.viewer import Viewer

log = logging.getLogger(__name__)

R = TypeVar("R")
M = TypeVar("M", bound="Member[Any]")

_QUEUE_SIZE = 1000  # results held for one member that does not read (as the event bus's queue)


class Member(Generic[R]):
    """One stream's place in a hub: its viewer and the results handed to it, in order."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self._results: deque[R] = deque()
        self._wake = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None

    @property
    def ended(self) -> bool:
        return self._ended

    def put(self, result: R) -> None:
        if self._ended:
            return
        if len(self._results) >= _QUEUE_SIZE:  # a stalled stream must not hold the others
            log.warning("dropping a live event for a slow subscriber")
            return
        self._results.append(result)
        self._wake.set()

    def end(self, *, discard: bool = False) -> None:
        """No more results; `discard` also drops those not yet read (access has ended)."""
        if discard:
            self._results.clear()
        self._ended = True
        self._wake.set()

    def fail(self, error: BaseException) -> None:
        """The hub broke (e.g. the database did): the stream raises `error` after what it holds,
        as a stream reading the database itself would have."""
        self._error = error
        self.end()

    async def results(self) -> AsyncIterator[R]:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._results:
                yield self._results.popleft()
            if self._ended:
                if self._error is not None:
                    raise self._error
                return


class Hub(Generic[M]):
    """The shared subscription of one source. Subclasses read and decide in `handle`."""

    def __init__(self, bus: EventBus, channel: str, on_stop: Callable[[], None]) -> None:
        self.channel = channel
        self.members: dict[M, None] = {}  # insertion-ordered: results go out in join order
        self._on_stop = on_stop
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(bus), name=f"live-hub {channel}")

    @property
    def subscribed(self) -> bool:
        return self._ready.done() and self._ready.exception() is None and not self._task.done()

    async def handle(self, event: dict[str, Any], members: list[M]) -> None:
        raise NotImplementedError

    async def _run(self, bus: EventBus) -> None:
        try:
            async with bus.subscribe(self.channel) as queue:
                self._ready.set_result(None)
                while True:
                    event = await queue.get()
                    members = [m for m in self.members if not m.ended]
                    if members:
                        await self.handle(event, members)
                        log.debug(
                            "%s %s: %d subscribers", self.channel, event.get("kind"), len(members)
                        )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the bus could not subscribe, or a read failed
            if not self._ready.done():
                self._ready.set_exception(exc)
                self._ready.exception()  # retrieved: the joiners raise it
            for member in self.members:
                member.fail(exc)
        finally:
            self._on_stop()

    async def wait_subscribed(self) -> None:
        await asyncio.shield(self._ready)  # a joiner cancelled while waiting leaves the hub be

    def leave(self, member: M) -> None:
        self.members.pop(member, None)
        if not self.members:
            self._on_stop()
            self._task.cancel()  # its `subscribe` block lets go of the channel


class Hubs(Generic[M]):
    """The hubs of one kind of source of one event bus, by source key."""

    def __init__(self, make: Callable[[EventBus, Any, Callable[[], None]], Hub[M]]) -> None:
        self._make = make
        self._by_key: dict[Any, Hub[M]] = {}

    def all(self) -> list[Hub[M]]:
        return list(self._by_key.values())

    @contextlib.asynccontextmanager
    async def join(self, bus: EventBus, key: Any, member: M) -> AsyncIterator[M]:
        """`member` is in the source's hub (started if need be) and the hub listens."""
        hub = self._by_key.get(key)
        if hub is None:

            def forget() -> None:
                if self._by_key.get(key) is hub:
                    del self._by_key[key]

            hub = self._make(bus, key, forget)
            self._by_key[key] = hub
        hub.members[member] = None
        try:
            await hub.wait_subscribed()
            yield member
        finally:
            hub.leave(member)
