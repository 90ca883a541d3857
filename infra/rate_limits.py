"""Rate limits on Redis (shared by every server process) or in memory (embedded mode).

Each rule names a limit string from the settings; callers pass the identifiers (an IP, an
email). A refused hit raises `RateLimitExceeded` with the seconds until the window frees up,
which the transports turn into 429 + Retry-After or `RATE_LIMITED` + `retryAfter`.

When Redis is unreachable the limits neither fail open (brute force during an outage) nor closed
(nobody can sign in): each process falls back to an in-process limiter with the same rules, and
tries Redis again `REDIS_FALLBACK_S` after the last failure. During an outage a client can
therefore get up to (number of server processes) × the limit, and counts made in memory are not
carried over to Redis (docs/operations.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from config import Settings
from infra.redis_client import redis_unreachable, retry_policy
from observability.metrics import count_rejection

log = logging.getLogger(__name__)

T = TypeVar("T")


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit exceeded, retry after {retry_after}s")
        self.retry_after = retry_after


def _limit_name(key: tuple[str, ...]) -> str:
    """The metric label of a limit: the fixed name its callers put first in the key
    ("login-email", "code-ip"…), never the identifiers that follow it."""
    return key[0] if key else "unnamed"


class RateLimiter:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        storage: Storage
        if settings.redis_url is not None:
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=settings.redis_prefix + "limits",
                wrap_exceptions=True,
                socket_connect_timeout=settings.redis_timeout_s,
                socket_timeout=max(settings.redis_timeout_s, 1.0),
                retry=retry_policy(settings),  # type: ignore[arg-type]
            )
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._shared = settings.redis_url is not None
        # The stand-in while Redis is unreachable (created on the first failure).
        self._fallback: MovingWindowRateLimiter | None = None
        self._fallback_s = settings.redis_fallback_s
        self._redis_down_until = 0.0
        self._clock = clock
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, rule: str) -> RateLimitItem:
        item = self._items.get(rule)
        if item is None:
            item = self._items[rule] = parse(rule)
        return item

    @property
    def degraded(self) -> bool:
        """True while limits are counted in this process only (Redis was unreachable)."""
        return self._shared and self._clock() < self._redis_down_until

    async def _run(self, operation: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        if not self.degraded:
            try:
                return await operation(self._limiter)
            except Exception as exc:
                if not self._shared or not redis_unreachable(exc):
                    raise
                if self._fallback is None or not self.degraded:
                    log.warning(
                        "rate limits: Redis unreachable (%r); counting in this process for %ss",
                        exc,
                        self._fallback_s,
                    )
                self._redis_down_until = self._clock() + self._fallback_s
        if self._fallback is None:
            self._fallback = MovingWindowRateLimiter(MemoryStorage())
        return await operation(self._fallback)

    async def _retry_after(
        self, limiter: MovingWindowRateLimiter, item: RateLimitItem, key: tuple[str, ...]
    ) -> int:
        stats = await limiter.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, rule: str, *key: str) -> None:
        """Count one attempt; raise if the window was already full."""
        item = self._item(rule)

        async def hit(limiter: MovingWindowRateLimiter) -> int | None:
            if await limiter.hit(item, *key):
                return None
            return await self._retry_after(limiter, item, key)

        retry_after = await self._run(hit)
        if retry_after is not None:
            count_rejection(_limit_name(key))
            raise RateLimitExceeded(retry_after)

    async def count(self, rule: str, *key: str) -> None:
        """Record one event without refusing anything (failed sign-ins, checked by `check`)."""
        item = self._item(rule)
        await self._run(lambda limiter: limiter.hit(item, *key))

    async def check(self, rule: str, *key: str) -> None:
        """Raise if the window is full, without counting (for limits on failures only)."""
        item = self._item(rule)

        async def check(limiter: MovingWindowRateLimiter) -> int | None:
            if await limiter.test(item, *key):
                return None
            return await self._retry_after(limiter, item, key)

        retry_after = await self._run(check)
        if retry_after is not None:
            count_rejection(_limit_name(key))
            raise RateLimitExceeded(retry_after)

    async def reset(self, rule: str, *key: str) -> None:
        item = self._item(rule)
        await self._run(lambda limiter: limiter.clear(item, *key))
