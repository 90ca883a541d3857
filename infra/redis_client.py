"""The shared Redis connection pool (absent in embedded mode)."""

from __future__ import annotations

from redis.asyncio import Redis

from config import Settings


def connect_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
    )
