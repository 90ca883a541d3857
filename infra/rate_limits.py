"""Rate limits on Redis (shared by every server process) or in memory (embedded mode).

Each rule names a limit string from the settings; callers pass the identifiers (an IP, an
email). A refused hit raises `RateLimitExceeded` with the seconds until the window frees up,
which the transports turn into 429 + Retry-After or `RATE_LIMITED` + `retryAfter`.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from config import Settings


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit exceeded, retry after {retry_after}s")
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        storage: Storage
        if settings.redis_url is not None:
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=settings.redis_prefix + "limits",
            )
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, rule: str) -> RateLimitItem:
        item = self._items.get(rule)
        if item is None:
            item = self._items[rule] = parse(rule)
        return item

    async def _retry_after(self, item: RateLimitItem, key: tuple[str, ...]) -> int:
        stats = await self._limiter.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, rule: str, *key: str) -> None:
        """Count one attempt; raise if the window was already full."""
        item = self._item(rule)
        if not await self._limiter.hit(item, *key):
            raise RateLimitExceeded(await self._retry_after(item, key))

    async def count(self, rule: str, *key: str) -> None:
        """Record one event without refusing anything (failed sign-ins, checked by `check`)."""
        await self._limiter.hit(self._item(rule), *key)

    async def check(self, rule: str, *key: str) -> None:
        """Raise if the window is full, without counting (for limits on failures only)."""
        item = self._item(rule)
        if not await self._limiter.test(item, *key):
            raise RateLimitExceeded(await self._retry_after(item, key))

    async def reset(self, rule: str, *key: str) -> None:
        await self._limiter.clear(self._item(rule), *key)
