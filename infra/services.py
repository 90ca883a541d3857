"""The process-wide service objects a request needs, built once at start-up.

Resolvers receive this object explicitly instead of reaching for globals, so each test can run an
app with its own settings, clock-free limits and mail sink.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from config import Settings
from infra.event_streams import EventStreams, build_event_streams
from infra.live_sessions import LiveSessions
from infra.mail import BackgroundMail, Mailer, build_mailer
from infra.passwords import Passwords
from infra.pubsub import EventBus
from infra.rate_limits import RateLimiter
from infra.redis_client import connect_redis
from infra.run_queue import RunQueue
from infra.tokens import AccessTokens


@dataclass(slots=True)
class Services:
    settings: Settings
    redis: Redis | None
    limiter: RateLimiter
    mail: BackgroundMail
    passwords: Passwords
    access_tokens: AccessTokens
    events: EventBus
    streams: EventStreams  # per-thread agent event logs
    run_queue: RunQueue  # agent run jobs
    live_sessions: LiveSessions  # sessions recently confirmed not revoked

    @classmethod
    def build(cls, settings: Settings, mailer: Mailer | None = None) -> Services:
        redis = connect_redis(settings)
        return cls(
            settings=settings,
            redis=redis,
            limiter=RateLimiter(settings),
            mail=BackgroundMail(mailer or build_mailer(settings)),
            passwords=Passwords(settings),
            access_tokens=AccessTokens(settings),
            events=EventBus(redis, settings.redis_url, settings.redis_prefix),
            streams=build_event_streams(settings, redis),
            run_queue=RunQueue(settings),
            live_sessions=LiveSessions(settings.session_check_ttl_s),
        )

    async def close(self) -> None:
        await self.mail.drain()
        await self.events.close()
        await self.streams.close()
        await self.run_queue.close()
        if self.redis is not None:
            await self.redis.aclose()
