"""Which sessions were recently seen live, so that a burst of requests with one access token
costs one database look-up per few seconds instead of one per request.

Revoking a session removes it here at once (`forget`), in this process and, through the event
bus, in every other; the time-to-live only bounds how long a revocation that never reached a
process (a lost pub/sub message) could go unnoticed there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable, Iterator

from redis.exceptions import RedisError

from infra.pubsub import EventBus

REVOKED_CHANNEL = "sessions:revoked"
_MAX_ENTRIES = 100_000  # beyond this the cache starts over rather than grow without bound


class SessionWatch(asyncio.Event):
    """Set when the watched session may have ended: `revoked` says it surely did; otherwise
    (revocations were lost while Redis was away) the watcher must look it up."""

    revoked = False


class LiveSessions:
    def __init__(self, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._until: dict[uuid.UUID, float] = {}
        # Long-lived streams (SSE, subscriptions) of this process, by the session they run
        # under: a sign-out must end them at once, not at their next event.
        self._watches: dict[uuid.UUID, set[SessionWatch]] = {}

    @contextlib.contextmanager
    def watch(self, session_id: uuid.UUID) -> Iterator[SessionWatch]:
        watch = SessionWatch()
        self._watches.setdefault(session_id, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watches.get(session_id, set())
            watches.discard(watch)
            if not watches:
                self._watches.pop(session_id, None)

    def recheck_watched(self) -> None:
        """Revocations may have been missed: every watcher looks its session up again."""
        for watches in self._watches.values():
            for watch in watches:
                watch.set()

    def known_live(self, session_id: uuid.UUID) -> bool:
        until = self._until.get(session_id)
        if until is None:
            return False
        if until < time.monotonic():
            del self._until[session_id]
            return False
        return True

    def remember(self, session_id: uuid.UUID) -> None:
        if self._ttl <= 0:
            return
        if len(self._until) >= _MAX_ENTRIES:
            self._until.clear()
        self._until[session_id] = time.monotonic() + self._ttl

    def clear(self) -> None:
        self._until.clear()

    def forget(self, session_ids: Iterable[uuid.UUID]) -> None:
        for session_id in session_ids:
            self._until.pop(session_id, None)
            for watch in self._watches.get(session_id, ()):
                watch.revoked = True
                watch.set()


async def follow_revocations(events: EventBus, cache: LiveSessions) -> None:
    """Forget sessions revoked by any process, as they are revoked (runs until cancelled).
    While the event bus cannot subscribe (Redis down), nothing is trusted from the cache."""
    while True:
        try:
            await _follow(events, cache)
        except RedisError:
            cache.clear()
            cache.recheck_watched()
            await asyncio.sleep(1.0)


async def _follow(events: EventBus, cache: LiveSessions) -> None:
    async with events.subscribe(REVOKED_CHANNEL) as queue:
        while True:
            message = await queue.get()
            if message.get("kind") == "RESYNC":
                cache.clear()  # notifications were lost while Redis was away: trust nothing
                cache.recheck_watched()
                continue
            ids = message.get("ids")
            if isinstance(ids, list):
                cache.forget(uuid.UUID(str(i)) for i in ids)
