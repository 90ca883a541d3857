"""The job queue that hands agent runs to workers: taskiq on a Redis stream, or in-process.

A job only says "execute run <pk>"; the run itself (its input, status and lease) lives in the
database, so a job delivered twice, late or to the wrong worker does no harm: the executor claims
the run with a conditional UPDATE and drops jobs whose run is already taken or done.

Why taskiq: `taskiq-redis`'s stream broker uses a consumer group, so each job goes to one worker,
stays pending until that worker acknowledges it after executing, and is re-delivered to another
worker (XAUTOCLAIM) when it never is; it is asyncio-native and accepts the redis 8 client we pin
(arq 0.28 requires redis < 6). Embedded mode uses taskiq's in-memory broker, so the same task code
runs inside the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq.acks import AcknowledgeType
from taskiq.api.receiver import run_receiver_task
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from config import Settings
from observability.metrics import count_redis_reconnect
from observability.tracing import continued_trace, job_carrier, span

EXECUTE_RUN = "agent.execute_run"
_RETRY_MIN_S, _RETRY_MAX_S = 0.5, 10.0

log = logging.getLogger(__name__)

RunHandler = Callable[[int], Awaitable[None]]


class RunQueue:
    """Submits run jobs, and in worker processes (or an embedded server) executes them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.broker: AsyncBroker
        if settings.redis_url is None:
            self.broker = InMemoryBroker(max_async_tasks=settings.agent_worker_concurrency)
        else:
            self.broker = RedisStreamBroker(
                settings.redis_url,
                queue_name=f"{settings.redis_prefix}agent-runs",
                consumer_group_name=f"{settings.redis_prefix}agent-workers",
                # "0", not "$": a group created after jobs were queued must still see them.
                consumer_id="0",
                xread_block=1000,
                maxlen=100_000,
                # Re-deliver a job its worker never acknowledged (the worker died) after twice
                # the lease; the run's own lease has ended it with RUN_ERROR long before.
                idle_timeout=int(settings.agent_run_lease_s * 2000),
                unacknowledged_lock_timeout=5.0,
            )
        self._started = False

    async def start(self) -> None:
        """Connect; for Redis this also creates the consumer group, so no job can be missed."""
        if not self._started:
            await self.broker.startup()
            self._started = True

    def register(self, handler: RunHandler) -> None:
        """Make this process able to execute runs (a worker, or the server when embedded)."""

        # taskiq renames the function it registers, so it must be a plain function of our own.
        # `context` is taskiq's dependency injection (its documented idiom), not a default.
        async def execute_run(run_pk: int, context: Context = TaskiqDepends()) -> None:  # noqa: B008
            # The submitter's trace continues here (`submit` put its context in the labels).
            with continued_trace(context.message.labels):
                await handler(run_pk)

        self.broker.register_task(execute_run, task_name=EXECUTE_RUN)

    async def submit(self, run_pk: int) -> None:
        with span(f"{EXECUTE_RUN} publish", {"agent.run.pk": run_pk}, kind="producer"):
            # The W3C trace context travels in the job's labels ({} when tracing is off).
            labels = job_carrier()
            kicker: AsyncKicker[[int], None] = AsyncKicker(EXECUTE_RUN, self.broker, labels)
            await kicker.kiq(run_pk)

    async def serve(self) -> None:
        """Take jobs until cancelled (Redis only: the in-memory broker executes on submit)."""
        if isinstance(self.broker, InMemoryBroker):
            return
        delay = _RETRY_MIN_S
        while True:
            try:
                await run_receiver_task(
                    self.broker,
                    max_async_tasks=self._settings.agent_worker_concurrency,
                    run_startup=False,
                    # Acknowledge after executing: a job whose worker dies stays pending.
                    ack_time=AcknowledgeType.WHEN_EXECUTED,
                )
                delay = _RETRY_MIN_S
            except RedisError as exc:
                # Redis went away: taskiq's receiver ends; listen again once it is back,
                # without spinning (the reaper re-queues whatever was missed meanwhile).
                log.warning("run queue: Redis unreachable (%r); retrying in %.1f s", exc, delay)
                count_redis_reconnect("queue")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def close(self) -> None:
        if self._started:
            with contextlib.suppress(Exception):
                await self.broker.shutdown()
            self._started = False
