"""The shared Redis connection pool (absent in embedded mode), and what counts as "Redis is down".

Request-path commands must fail fast when Redis is unreachable (the routes that only use it on
the side — pub/sub notifications, rate limits — then carry on without it, see
docs/operations.md): short socket timeouts and a small, quick retry budget instead of redis-py's
default of ten retries with backoff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import Settings
from observability.metrics import count_redis_reconnect

T = TypeVar("T")


class CountingRetry(Retry):
    """redis-py's retry, counting each dropped connection it replaces (the reconnects metric):
    its failure handler disconnects, and the next attempt connects again."""

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        async def counted(*failure: Any) -> Any:
            count_redis_reconnect("commands")
            return await fail(*failure)

        return await super().call_with_retry(do, counted, is_retryable, with_failure_count)


def retry_policy(settings: Settings) -> Retry:
    """Retry a failed command twice, quickly: a dropped pooled connection (Redis restarted) is
    replaced on the spot, while a Redis that is down fails the command within a fraction of a
    second (plus the connect timeout when its host does not answer at all)."""
    return CountingRetry(ExponentialBackoff(cap=0.2, base=0.05), settings.redis_retries)


def redis_options(settings: Settings) -> dict[str, Any]:
    return {
        "socket_connect_timeout": settings.redis_timeout_s,
        "retry": retry_policy(settings),
        "health_check_interval": 30,
    }


def connect_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        socket_timeout=max(settings.redis_timeout_s, 1.0),
        **redis_options(settings),
    )


def redis_unreachable(exc: BaseException) -> bool:
    """True for errors that mean Redis could not be reached or did not answer in time (a
    restarting Redis answers LOADING: `BusyLoadingError` is a `ConnectionError`)."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return True
    try:
        from limits.errors import StorageError
    except ImportError:  # pragma: no cover - limits is a dependency
        return False
    return isinstance(exc, StorageError)
