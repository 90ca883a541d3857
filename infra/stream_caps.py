"""Per-user caps on long-lived connections, counted across every server process.

Two instances live on the app: open streams (agent SSE streams + GraphQL subscriptions,
`MAX_STREAMS_PER_USER`) and GraphQL websocket connections (`MAX_WS_CONNECTIONS_PER_USER`).

With Redis, each user's held slots are one sorted set, `<prefix>caps:<kind>:<user id>`: a member
per slot (a random id), scored with the moment its lease ends (Redis's own clock, so the
processes' clocks do not matter). Taking a slot is one script: drop the lapsed members, refuse
when the rest reach the limit, add the new one. The process holding slots renews their leases
every third of `STREAM_LEASE_S`; releasing removes the member at once. A process that dies stops
renewing, so its slots lapse within `STREAM_LEASE_S` and nobody stays locked out by a crash.
Embedded (no Redis), the counts are this process's, which is every process there is.

While Redis is unreachable, slots are counted in this process only (as the rate limits do):
neither refusing every stream nor letting them go uncounted.

`acquire` answers a `StreamSlot` or raises `RateLimitExceeded`; the slot must be released when
the stream ends. Releasing twice is harmless, and a slot that is dropped without being released
(a response that was never sent) releases itself when it is garbage collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from redis.asyncio import Redis

from config import Settings
from infra.rate_limits import RateLimitExceeded
from infra.redis_client import redis_unreachable
from observability.metrics import count_rejection

log = logging.getLogger(__name__)

# There is no window to wait for: a slot frees up when one of the user's streams ends. A few
# seconds keeps a reconnecting client from spinning.
RETRY_AFTER_S = 5

# KEYS[1]: the user's set; ARGV: limit, lease in ms, the new member. 1 when taken, 0 when full.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS[1]: the user's set; ARGV: lease in ms, then the members this process still holds.
# XX: a member released (or lapsed and dropped) meanwhile is not brought back.
_RENEW = """
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


class StreamSlot:
    __slots__ = ("_caps", "_member", "_user", "released")

    def __init__(self, caps: StreamCaps, user: str, member: str | None) -> None:
        self._caps = caps
        self._user = user
        self._member = member  # None: counted in this process only (no Redis)
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._caps._release(self._user, self._member)

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> StreamSlot:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


_REDIS_CALLS_AT_ONCE = 4


class StreamCaps:
    def __init__(
        self,
        limit: int,
        *,
        kind: str = "streams",
        redis: Redis | None = None,
        prefix: str = "",
        lease_s: float = 30.0,
    ) -> None:
        self.limit = limit
        self._redis = redis
        self._key_prefix = f"{prefix}caps:{kind}:"
        self._lease_ms = max(1, round(lease_s * 1000))
        self._kind = kind
        # This process's slots: how many per user, and which Redis members it must renew.
        self._open: dict[str, int] = {}
        self._members: dict[str, set[str]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        # A burst of streams opening at once (a fan-out's subscribers) would otherwise take one
        # pooled Redis connection each and leave the pool that large; a few suffice.
        self._redis_calls = asyncio.Semaphore(_REDIS_CALLS_AT_ONCE)

    def open_streams(self, user_id: uuid.UUID | str) -> int:
        """The user's slots held by this process."""
        return self._open.get(str(user_id), 0)

    async def acquire(self, user_id: uuid.UUID | str) -> StreamSlot:
        """One more slot for the user, or `RateLimitExceeded` when they hold the cap."""
        user = str(user_id)
        member = await self._acquire_shared(user) if self._redis is not None else None
        if member is None and self._open.get(user, 0) >= self.limit:
            count_rejection(f"{self._kind}-per-user")
            raise RateLimitExceeded(RETRY_AFTER_S)
        self._open[user] = self._open.get(user, 0) + 1
        if member is not None:
            self._members.setdefault(user, set()).add(member)
            self._start_renewing()
        return StreamSlot(self, user, member)

    async def _acquire_shared(self, user: str) -> str | None:
        """The new member's id; None when Redis is unreachable (count locally instead)."""
        assert self._redis is not None
        member = uuid.uuid4().hex
        try:
            async with self._redis_calls:
                taken = await self._redis.eval(
                    _ACQUIRE, 1, self._key_prefix + user, self.limit, self._lease_ms, member
                )
        except Exception as exc:
            if not redis_unreachable(exc):
                raise
            log.warning(
                "%s caps: Redis unreachable (%r); counting in this process", self._kind, exc
            )
            return None
        if not taken:
            count_rejection(f"{self._kind}-per-user")
            raise RateLimitExceeded(RETRY_AFTER_S)
        return member

    def _release(self, user: str, member: str | None) -> None:
        if member is None:
            self._uncount(user)
            return
        members = self._members.get(user)
        if members is not None:
            members.discard(member)
            if not members:
                del self._members[user]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # collected outside the loop: the lease lapses instead
            self._uncount(user)
            return
        # The slot counts here until Redis has forgotten it, so that `open_streams` never says a
        # slot is free while another process would still be refused it.
        task = loop.create_task(self._forget(user, member))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _uncount(self, user: str) -> None:
        count = self._open.get(user, 0) - 1
        if count > 0:
            self._open[user] = count
        else:
            self._open.pop(user, None)

    async def _forget(self, user: str, member: str) -> None:
        assert self._redis is not None
        try:
            async with self._redis_calls:
                await self._redis.zrem(self._key_prefix + user, member)
        except Exception as exc:  # the lease lapses on its own
            log.warning("%s caps: could not release a slot (%r)", self._kind, exc)
        finally:
            self._uncount(user)

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        assert self._redis is not None
        while self._members:
            await asyncio.sleep(self._lease_ms / 3000)
            for user, members in list(self._members.items()):
                try:
                    await self._redis.eval(
                        _RENEW, 1, self._key_prefix + user, self._lease_ms, *members
                    )
                except Exception as exc:  # retried at the next round, within the lease
                    log.warning("%s caps: could not renew leases (%r)", self._kind, exc)

    async def close(self) -> None:
        """Stop renewing and wait for the releases under way (the app's shutdown)."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def build_stream_caps(settings: Settings, redis: Redis | None) -> StreamCaps:
    """Agent SSE streams + GraphQL subscriptions per user (`MAX_STREAMS_PER_USER`)."""
    return StreamCaps(
        settings.max_streams_per_user,
        kind="streams",
        redis=redis,
        prefix=settings.redis_prefix,
        lease_s=settings.stream_lease_s,
    )


def build_ws_caps(settings: Settings, redis: Redis | None) -> StreamCaps:
    """GraphQL websocket connections per user (`MAX_WS_CONNECTIONS_PER_USER`)."""
    return StreamCaps(
        settings.max_ws_connections_per_user,
        kind="ws",
        redis=redis,
        prefix=settings.redis_prefix,
        lease_s=settings.stream_lease_s,
    )
