"""Live notifications between server processes: Redis pub/sub, or in-process in embedded mode.

Messages are small JSON objects naming what changed ("inbox message X was created"); the
subscriber reads the current state from the database and re-checks access, so a notification
never carries data its receiver may not see.
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

log = logging.getLogger(__name__)

_QUEUE_SIZE = 1000


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
        self._start_lock = asyncio.Lock()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        if self._redis is None:
            self._deliver(channel, message)
            return
        await self._redis.publish(self._prefix + channel, orjson.dumps(message))

    def _deliver(self, channel: str, message: dict[str, Any]) -> None:
        for queue in list(self._local.get(channel, ())):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a stalled subscriber must not block the others
                log.warning("dropping event for a slow subscriber of %s", channel)

    async def _ensure_listener(self) -> None:
        if self._redis is None or self._listener is not None:
            return
        async with self._start_lock:
            if self._listener is None:
                await self._start_listener()

    async def _start_listener(self) -> None:
        # Its own connection without a read timeout: a quiet channel is not an error.
        self._listener_client = Redis.from_url(self._redis_url or "", health_check_interval=30)
        self._pubsub = self._listener_client.pubsub()
        await self._pubsub.psubscribe(self._prefix + "*")
        # Wait for Redis to confirm, so an event published right after `subscribe` returns is
        # heard (PSUBSCRIBE is otherwise only sent, not yet in force).
        async with asyncio.timeout(5):
            while True:
                reply = await self._pubsub.get_message(timeout=1)
                if reply is not None and reply.get("type") == "psubscribe":
                    break
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                async for raw in self._pubsub.listen():
                    if raw.get("type") != "pmessage":
                        continue
                    channel = raw["channel"].decode()[len(self._prefix) :]
                    if channel in self._local:
                        self._deliver(channel, orjson.loads(raw["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted: resubscribe after a pause
                log.warning("event bus lost its Redis subscription; retrying", exc_info=True)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await self._pubsub.psubscribe(self._prefix + "*")

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
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._listener_client is not None:
            await self._listener_client.aclose()
