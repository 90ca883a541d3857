"""Live notifications between server processes: Redis pub/sub, or in-process in embedded mode.

Messages are small JSON objects naming what changed ("inbox message X was created"); the
subscriber reads the current state from the database and re-checks access, so a notification
never carries data its receiver may not see.

Redis outages (docs/operations.md): a notification is a hint sent after the change is stored, so
publishing never fails the request that made the change — it is logged and dropped. The process's
one subscription reconnects by itself with backoff; notifications published while it was away
are lost (pub/sub keeps nothing), and local subscribers are told about the gap with a
`RESYNC` message so they can re-read what they show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from observability.metrics import count_fanned_out, count_redis_reconnect

log = logging.getLogger(__name__)

_QUEUE_SIZE = 1000
_BACKOFF_MAX_S = 2.0
_SUBSCRIBE_WAIT_S = 5.0
RESYNC: dict[str, Any] = {"kind": "RESYNC"}  # delivered to every subscriber after a gap


class EventBus:
    """Fan-out of channel messages to local subscribers; one Redis subscription per process."""

    def __init__(self, redis: Redis | None, redis_url: str | None, prefix: str) -> None:
        self._redis = redis
        self._redis_url = redis_url
        self._prefix = prefix + "events:"
        self._local: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: Any = None
        self._listener_client: Redis | None = None
        self._subscribed = asyncio.Event()  # the listener's subscription is in force
        self._last_error: Exception | None = None

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        if self._redis is None:
            self._deliver(channel, message)
            return
        try:
            await self._redis.publish(self._prefix + channel, orjson.dumps(message))
        except RedisError as exc:  # the change is stored; only its live notification is lost
            log.warning("cannot publish on %s (Redis unreachable?): %r", channel, exc)

    def _deliver(self, channel: str, message: dict[str, Any]) -> None:
        subscribers = list(self._local.get(channel, ()))
        count_fanned_out("live", len(subscribers))
        for queue in subscribers:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a stalled subscriber must not block the others
                log.warning("dropping event for a slow subscriber of %s", channel)

    async def _ensure_listener(self) -> None:
        """Start the process's subscription on first use and wait until Redis confirmed it, so
        an event published right after `subscribe` returns is heard. The subscription runs in
        a task of its own (the caller may be cancelled while it waits without disturbing it);
        while Redis is unreachable a caller waits `_SUBSCRIBE_WAIT_S`, then gets the error."""
        if self._redis is None:
            return
        if self._listener is None or self._listener.done():
            self._subscribed.clear()
            self._listener = asyncio.create_task(self._listen(), name="event-bus-listener")
        if self._subscribed.is_set():
            return
        try:
            async with asyncio.timeout(_SUBSCRIBE_WAIT_S):
                await self._subscribed.wait()
        except TimeoutError:
            raise RedisConnectionError(
                f"the event bus could not subscribe to Redis: {self._last_error!r}"
            ) from None

    async def _subscribe_listener(self) -> None:
        # Its own connection without a read timeout: a quiet channel is not an error.
        # No retries inside redis-py: it would reconnect and resubscribe silently, and the
        # subscribers would never hear that notifications were lost in between.
        self._listener_client = Redis.from_url(
            self._redis_url or "",
            health_check_interval=30,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        self._pubsub = self._listener_client.pubsub()
        await self._pubsub.psubscribe(self._prefix + "*")
        # Wait for Redis to confirm: PSUBSCRIBE is otherwise only sent, not yet in force.
        async with asyncio.timeout(5):
            while True:
                reply = await self._pubsub.get_message(timeout=1)
                if reply is not None and reply.get("type") == "psubscribe":
                    break

    async def _drop_listener_connection(self) -> None:
        self._subscribed.clear()
        pubsub, client = self._pubsub, self._listener_client
        self._pubsub = self._listener_client = None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _listen(self) -> None:
        delay = 0.1
        first = True
        while True:
            try:
                await self._subscribe_listener()
                self._subscribed.set()
                if not first:
                    log.info("event bus subscribed to Redis again")
                    count_redis_reconnect("pubsub")
                    # Whatever was published while we were away is lost: tell the subscribers.
                    for channel in list(self._local):
                        self._deliver(channel, RESYNC)
                first = False
                delay = 0.1
                assert self._pubsub is not None
                async for raw in self._pubsub.listen():
                    if raw.get("type") != "pmessage":
                        continue
                    channel = raw["channel"].decode()[len(self._prefix) :]
                    if channel in self._local:
                        self._deliver(channel, orjson.loads(raw["data"]))
                # `listen` ends when the subscription is gone: start a fresh one.
                await self._drop_listener_connection()
            except asyncio.CancelledError:
                await self._drop_listener_connection()
                raise
            except Exception as exc:  # Redis restarted or unreachable: resubscribe with backoff
                self._last_error = exc
                log.warning("event bus has no Redis subscription (%r); retrying", exc)
                await self._drop_listener_connection()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        await self._ensure_listener()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_SIZE)
        self._local[channel].add(queue)
        try:
            yield queue
        finally:
            subscribers = self._local.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._local[channel]

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            # Bounded: redis-py can swallow a cancellation that lands in its own read timeout.
            await asyncio.wait({self._listener}, timeout=2)
        await self._drop_listener_connection()
