"""Which implementation a configuration gets."""

from __future__ import annotations

from redis.asyncio import Redis

from config import Settings
from infra.event_streams.base import EventStreams, end_tails_on_shutdown
from infra.event_streams.memory import MemoryEventStreams
from infra.event_streams.redis_streams import RedisEventStreams


def build_event_streams(settings: Settings, redis: Redis | None) -> EventStreams:
    """Redis Streams when a Redis is configured, in-process streams otherwise."""
    streams: EventStreams
    if redis is None or settings.redis_url is None:
        streams = MemoryEventStreams(
            max_len=settings.agent_stream_max_len, max_age_s=settings.agent_stream_max_age_s
        )
    else:
        streams = RedisEventStreams(
            redis,
            settings.redis_url,
            prefix=settings.redis_prefix,
            max_len=settings.agent_stream_max_len,
            max_age_s=settings.agent_stream_max_age_s,
            append_retry_s=settings.agent_stream_append_retry_s,
        )
    end_tails_on_shutdown(streams)
    return streams
