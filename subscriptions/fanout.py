"""A fan-out hub: one source per group of identical subscribers, its items handed to all of them.

Transport-neutral: an item is an already encoded payload (text) at a position of its source (a
stream id, `<ms>-<seq>`). The transport decides which subscribers are identical (the group key)
and encodes each item once; the hub runs one pump per group that reads the source and hands
each item to every member without awaiting anyone (written at once when the member's client
keeps up, queued otherwise: see `Member`), so a slow member never holds up the others.

Positions. A group starts at a cursor (None: from the oldest event the source holds) and
remembers the position of the last item it delivered. A subscriber joins a group whose position
is exactly its own cursor (for None, a group that has delivered nothing yet); otherwise it starts
a group of its own, which catches up from its cursor. When two groups of one key reach the same
position they merge (the later one's members move over, its pump stops), so a subscriber that
joined mid-stream with `after` costs one extra execution per event only until it has caught up.
An item whose position does not advance (a snapshot carrying the client's own cursor) makes the
group unmergeable until the next one that does.

Memory. A member whose queued text exceeds its bound while a write to its client is stuck (the
client reads nothing, and the transport's buffer is full) is marked overflowed and its queue is
dropped: the transport closes that client, which resumes from the last position it received and
loses nothing (the events stay in the source). A queue that grows only because its writer has
not had its turn yet (a backlog read in one go) may reach four times the bound before the same
happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from typing import Any

from infra.event_streams import compare_ids

Item = tuple[str, str]  # (position, encoded payload)
_HARD_FACTOR = 4  # a queue this many times its bound overflows whatever its writer is doing


class SlowConsumer(Exception):
    """The member's queue outgrew its bound; its client must reconnect and resume."""


Write = Callable[[str], Coroutine[Any, Any, None]]


class Member:
    """One subscriber's queue of encoded payloads, filled by its group's pump, and its writer.

    While the member's writer is parked with nothing queued, the pump writes a payload itself:
    it starts the write's coroutine and, when that completes without waiting (the transport
    took the bytes, as it does while the client keeps up), there is nothing to queue and no task
    to wake. A write that has to wait is handed to the writer task, which finishes it before
    anything else; meanwhile payloads queue as usual.
    """

    __slots__ = (
        "_bytes",
        "_end",
        "_error",
        "_items",
        "_pending",
        "_waiting",
        "_wake",
        "_write",
        "group",
        "limit",
        "on_overflow",
        "revoked",
        "writing",
    )

    def __init__(self, limit: int, on_overflow: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self.on_overflow = on_overflow
        self.group: Group | None = None
        # True while a write to the client is under way. A queue over the bound while the
        # client takes no more is a slow client; while its writer is merely waiting for its turn
        # (a backlog arriving in one go), it is not.
        self.writing = False
        self.revoked = False  # its session ended: nothing more is written to it
        self._items: deque[str] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._end = False
        self._error: BaseException | None = None
        self._write: Write | None = None
        self._waiting = False  # the writer is parked with nothing queued or pending
        self._pending: tuple[Coroutine[Any, Any, None], Any] | None = None

    @property
    def overflowed(self) -> bool:
        return self._bytes < 0

    def offer(self, payload: str) -> None:
        if self._end or self.overflowed:
            return
        if self._waiting and self._write is not None:
            self._write_now(self._write(payload))
            return
        self._items.append(payload)
        self._bytes += len(payload)
        if self._bytes > self.limit and (self.writing or self._bytes > _HARD_FACTOR * self.limit):
            self._items.clear()
            self._bytes = -1  # overflowed: nothing more is queued for it
            if self.on_overflow is not None:
                self.on_overflow()
        self._rouse()

    def _write_now(self, write: Coroutine[Any, Any, None]) -> None:
        try:
            awaiting = write.send(None)
        except StopIteration:
            return  # written: the writer stays parked
        except Exception as exc:  # the client is gone: the writer reports it
            self.finish(exc)
            return
        self._pending = (write, awaiting)
        self.writing = True
        self._rouse()

    def _rouse(self) -> None:
        self._waiting = False
        self._wake.set()

    def revoke(self) -> None:
        """Ends the member at once, dropping what is queued (its session was revoked)."""
        self.revoked = True
        self._items.clear()
        self._bytes = 0
        self.finish()

    def finish(self, error: BaseException | None = None) -> None:
        """The source ended (with its exception, if it raised one), or the client is gone;
        the first end is the one reported."""
        if self._end:
            return
        self._end = True
        self._error = error
        self._rouse()

    async def write_all(self, write: Write) -> None:
        """Writes every payload until the source ends (raising its error, if any) or the
        member is revoked; raises `SlowConsumer` when it overflowed. Payloads queued while the
        client fell behind are written back to back, without a wake-up each."""
        self._write = write
        try:
            while True:
                if self._pending is not None:
                    coroutine, awaiting = self._pending
                    self._pending = None
                    await _resume(coroutine, awaiting)
                    self.writing = False
                    continue
                if self.overflowed:
                    raise SlowConsumer
                if self._items:
                    batch = list(self._items)
                    self._items.clear()
                    self._bytes = 0
                    for payload in batch:
                        if self.revoked:
                            return  # what was queued is not for a signed-out client
                        self.writing = True
                        await write(payload)
                        self.writing = False
                    continue
                if self._end:
                    if self._error is not None:
                        raise self._error
                    return
                self._wake.clear()
                self._waiting = True
                await self._wake.wait()
        finally:
            self._waiting = False
            self._write = None
            if self._pending is not None:
                self._pending[0].close()
                self._pending = None


async def _resume(coroutine: Coroutine[Any, Any, None], awaiting: Any) -> None:
    """Runs a coroutine that was started outside any task to its end, from this task: waits for
    what it waits for, then steps it on (what a task does for the coroutine it wraps)."""
    try:
        while True:
            if isinstance(awaiting, asyncio.Future):
                awaiting._asyncio_future_blocking = False
                await asyncio.wait((awaiting,))
            else:  # a bare `yield` (`asyncio.sleep(0)`): one turn of the loop
                await asyncio.sleep(0)
            awaiting = coroutine.send(None)
    except StopIteration:
        return
    except BaseException:
        coroutine.close()  # cancelled while waiting: the write is abandoned with its operation
        raise


class Group:
    __slots__ = ("_task", "hub", "key", "members", "mergeable", "position")

    def __init__(self, hub: FanoutHub, key: Hashable, start: str | None) -> None:
        self.hub = hub
        self.key = key
        self.members: set[Member] = set()
        self.position = start
        self.mergeable = True
        self._task: asyncio.Task[None] | None = None

    def accepts(self, cursor: str | None) -> bool:
        return self.mergeable and self.position == cursor

    def add(self, member: Member) -> None:
        member.group = self
        self.members.add(member)

    def start(self, source: AsyncIterator[Item]) -> None:
        self._task = asyncio.create_task(self._pump(source))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _pump(self, source: AsyncIterator[Item]) -> None:
        error: BaseException | None = None
        try:
            async for position, payload in source:
                self.hub.deliveries += 1
                for member in list(self.members):
                    member.offer(payload)
                self._advance(position)
                # A backlog (a range read) comes in faster than any socket drains: one item per
                # turn of the loop lets the members' writers keep up, so only a client that
                # really stops reading reaches its bound.
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to every member, as each one's own source would
            error = exc
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        self.hub._forget(self)
        for member in self.members:
            member.finish(error)

    def _advance(self, position: str) -> None:
        if self.position is not None and compare_ids(position, self.position) <= 0:
            self.mergeable = False  # a snapshot with the client's own cursor
            return
        self.position = position
        self.mergeable = True
        for other in self.hub._siblings(self):
            if other.accepts(position):
                self.hub.merges += 1
                for member in other.members:
                    self.add(member)
                other.members.clear()
                self.hub._forget(other)
                other.stop()


class FanoutHub:
    """The groups of one process, by key. `deliveries` counts items pumped (one execution and
    encoding each) and `merges` groups that caught up with another: tests read them to check
    that N subscribers cost one execution per event."""

    def __init__(self) -> None:
        self._groups: dict[Hashable, list[Group]] = {}
        self.deliveries = 0
        self.merges = 0

    def join(
        self,
        key: Hashable,
        cursor: str | None,
        member: Member,
        open_source: Callable[[], AsyncIterator[Item]],
    ) -> bool:
        """Adds `member` to a group of `key` at `cursor`, starting one from `open_source()`
        when there is none. True when a group was started."""
        for group in self._groups.get(key, ()):
            if group.accepts(cursor):
                group.add(member)
                return False
        group = Group(self, key, cursor)
        group.add(member)
        self._groups.setdefault(key, []).append(group)
        group.start(open_source())
        return True

    def leave(self, member: Member) -> None:
        group = member.group
        member.group = None
        if group is None:
            return
        group.members.discard(member)
        if not group.members:
            self._forget(group)
            group.stop()

    def group_sizes(self, match: Callable[[Hashable], bool]) -> list[int]:
        """The member counts of the groups whose key `match`es, largest first."""
        sizes = [len(g.members) for k, gs in self._groups.items() if match(k) for g in gs]
        return sorted(sizes, reverse=True)

    def _siblings(self, group: Group) -> list[Group]:
        return [g for g in self._groups.get(group.key, ()) if g is not group]

    def _forget(self, group: Group) -> None:
        groups = self._groups.get(group.key)
        if groups is not None and group in groups:
            groups.remove(group)
            if not groups:
                del self._groups[group.key]

    def stats(self) -> dict[str, Any]:
        return {
            "groups": sum(len(g) for g in self._groups.values()),
            "deliveries": self.deliveries,
            "merges": self.merges,
        }
