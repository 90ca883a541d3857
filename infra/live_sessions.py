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
from collections.abc import Callable, Iterable, Iterator

from redis.exceptions import RedisError

from infra.pubsub import EventBus

REVOKED_CHANNEL = "sessions:revoked"
_MAX_ENTRIES = 100_000  # beyond this the cache starts over rather than grow without bound


# Called when a watched session may have ended: with True when it surely did (it was revoked),
# with False when revocations may have been missed (Redis was away) and the watcher must look
# the session up. Called synchronously, from whatever task noticed: it must not block.
SessionAlarm = Callable[[bool], None]


class LiveSessions:
    def __init__(self, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._until: dict[uuid.UUID, float] = {}
        # Long-lived streams (SSE, subscriptions) of this process, by the session they run
        # under: a sign-out must end them at once, not at their next event.
        # A callback per stream, not a task: an idle stream costs nothing until its session ends.
        self._watches: dict[uuid.UUID, list[SessionAlarm]] = {}

    @contextlib.contextmanager
    def watch(self, session_id: uuid.UUID, alarm: SessionAlarm) -> Iterator[None]:
        """`alarm` is called while the block runs whenever the session may have ended."""
        self._watches.setdefault(session_id, []).append(alarm)
        try:
            yield
        finally:
            alarms = self._watches.get(session_id, [])
            with contextlib.suppress(ValueError):
                alarms.remove(alarm)
            if not alarms:
                self._watches.pop(session_id, None)

    def recheck_watched(self) -> None:
        """Revocations may have been missed: every watcher looks its session up again."""
        for alarms in list(self._watches.values()):
            for alarm in list(alarms):
                alarm(False)

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
            for alarm in list(self._watches.get(session_id, ())):
                alarm(True)


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
