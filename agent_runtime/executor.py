"""Executes queued runs: claims them in their thread's order, keeps a lease while running, and
ends the runs of dead workers.

A job names one run. The executor claims it only when no earlier run of its thread is unfinished
(runs of a thread execute one at a time, in the order they were accepted); when it cannot, it
drops the job, because whoever finishes the earlier run continues with the thread's next queued
run. The reaper covers the rest: it ends runs whose lease lapsed (their worker died) with
`RUN_ERROR`, and re-queues queued runs nobody is working on.

Cancels (resolvers/agent_cancel.py) reach a running run through the event bus, heard by a
watcher next to the session, and through the run's `cancel_requested_at`, re-read with every
lease renewal in case the bus message was lost. A claimed run whose cancel came while it was
queued is ended without starting its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from datetime import UTC, datetime, timedelta

from ag_ui.core import RunErrorEvent
from redis.exceptions import RedisError

from agent_runtime.chat_model import ChatModel
from agent_runtime.run_session import RunSession
from agent_runtime.server_tools import viewer_for
from infra.services import Services
from models import AgentRun, AgentThread
from models.agent import FAILED, QUEUED, RUNNING, UNFINISHED
from observability.metrics import AGENT_QUEUE_DEPTH, AGENT_RUNS_RUNNING, observe_run
from observability.tracing import annotate, span
from resolvers.agent_cancel import CANCEL_KIND, cancel_channel, end_cancelled_queued
from resolvers.agent_threads import checkpoint

log = logging.getLogger(__name__)

WORKER_LOST = "WORKER_LOST"


def _now() -> datetime:
    return datetime.now(UTC)


class RunExecutor:
    def __init__(self, services: Services, model: ChatModel) -> None:
        self.services = services
        self.model = model
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lease = timedelta(seconds=services.settings.agent_run_lease_s)

    # --- jobs ---------------------------------------------------------------------------------

    async def execute(self, run_pk: int) -> None:
        """The queue's task: run `run_pk` if it is its thread's turn, then the thread's next."""
        next_pk: int | None = run_pk
        while next_pk is not None:
            run = await self._claim(next_pk)
            if run is None:
                return
            # The run's span: a child of the request that queued it (the job carried its trace).
            attributes = {"agent.run.id": run.run_id, "agent.thread.id": str(run.thread_id)}
            with span("agent run", attributes, kind="consumer"):
                if run.cancel_requested_at is not None:
                    await end_cancelled_queued(self.services, run)
                else:
                    await self._execute_claimed(run)
            next_pk = await self._next_in_line(run.thread_id)

    async def _claim(self, run_pk: int) -> AgentRun | None:
        run = await AgentRun.get_or_none(id=run_pk)
        if run is None or run.status != QUEUED:
            return None
        earlier = AgentRun.filter(thread_id=run.thread_id, id__lt=run.id, status__in=UNFINISHED)
        if await earlier.exists():
            return None  # the earlier run's executor continues with this one
        now = _now()
        claimed = await AgentRun.filter(id=run.id, status=QUEUED).update(
            status=RUNNING,
            worker=self.worker_id,
            started_at=now,
            lease_expires_at=now + self._lease,
        )
        if not claimed:
            return None
        await run.refresh_from_db()
        return run

    async def _next_in_line(self, thread_id: object) -> int | None:
        pk = (
            await AgentRun.filter(thread_id=thread_id, status=QUEUED)
            .order_by("id")
            .first()
            .values_list("id", flat=True)
        )
        return int(str(pk)) if pk is not None else None

    async def _execute_claimed(self, run: AgentRun) -> None:
        thread = await AgentThread.get(id=run.thread_id)
        session = RunSession(
            self.services, self.model, run, thread, await viewer_for(thread.owner_id)
        )
        async with contextlib.AsyncExitStack() as stack:
            subscription = self.services.events.subscribe(cancel_channel(run.thread_id))
            try:
                cancels = await stack.enter_async_context(subscription)
            except RedisError as exc:
                # Without the bus a cancel is still seen, at the next lease renewal.
                log.warning("run %s: cannot listen for cancels (%r)", run.id, exc)
                cancels = asyncio.Queue()
            await self._run_session(run, session, cancels)

    async def _run_session(
        self, run: AgentRun, session: RunSession, cancels: asyncio.Queue[dict[str, object]]
    ) -> None:
        if await AgentRun.filter(id=run.id, cancel_requested_at__not_isnull=True).exists():
            session.cancel.set()  # asked for between the claim and the subscription
        work = asyncio.ensure_future(session.execute())
        heartbeat = asyncio.ensure_future(self._keep_lease(run, work, session))
        watcher = asyncio.ensure_future(self._watch_cancels(run, session, cancels))
        status = FAILED
        started = time.perf_counter()
        AGENT_RUNS_RUNNING.inc()
        try:
            status = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # This worker is stopping: end the run now rather than after its lease.
                await asyncio.shield(self._abandon(run, session, "The worker stopped."))
                observe_run(WORKER_LOST.lower(), time.perf_counter() - started)
                raise
            log.warning("run %s lost its lease; another worker ended it", run.id)
            return
        except Exception:
            reference = secrets.token_hex(6)
            log.exception("run %s failed (reference %s)", run.id, reference)
            with contextlib.suppress(Exception):
                await session.fail(
                    f"The run failed unexpectedly (reference {reference}).", "INTERNAL"
                )
        finally:
            heartbeat.cancel()
            AGENT_RUNS_RUNNING.dec()
            watcher.cancel()
        await AgentRun.filter(id=run.id, status=RUNNING, worker=self.worker_id).update(
            status=status,
            finished_at=_now(),
            lease_expires_at=None,
            error=session.error_code,
            usage=session.usage,
        )
        annotate({"agent.run.status": status})
        observe_run(status, time.perf_counter() - started)

    async def _watch_cancels(
        self, run: AgentRun, session: RunSession, cancels: asyncio.Queue[dict[str, object]]
    ) -> None:
        while not session.cancel.is_set():
            message = await cancels.get()
            runs = message.get("runs")
            if message.get("kind") == CANCEL_KIND and isinstance(runs, list) and run.id in runs:
                session.cancel.set()
            elif message.get("kind") != CANCEL_KIND:  # RESYNC: a message may have been lost
                await self._check_cancel_requested(run, session)

    async def _check_cancel_requested(self, run: AgentRun, session: RunSession) -> None:
        if await AgentRun.filter(id=run.id, cancel_requested_at__not_isnull=True).exists():
            session.cancel.set()

    async def _keep_lease(
        self, run: AgentRun, work: asyncio.Future[str], session: RunSession
    ) -> None:
        """Renew the lease every third of its length; if it was taken away, stop the run."""
        interval = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            renewed = await AgentRun.filter(
                id=run.id, status=RUNNING, worker=self.worker_id
            ).update(lease_expires_at=_now() + self._lease)
            if not renewed:
                work.cancel()
                return
            await self._check_cancel_requested(run, session)

    async def _abandon(self, run: AgentRun, session: RunSession, message: str) -> None:
        ended = await AgentRun.filter(id=run.id, status=RUNNING, worker=self.worker_id).update(
            status=FAILED, finished_at=_now(), lease_expires_at=None
        )
        if ended:
            with contextlib.suppress(Exception):
                await session.fail(message, WORKER_LOST)

    # --- the reaper ---------------------------------------------------------------------------

    async def reap(self) -> int:
        """End runs whose worker vanished, and re-queue stranded runs. Returns runs ended."""
        now = _now()
        ended = 0
        expired = await AgentRun.filter(status=RUNNING, lease_expires_at__lt=now).values_list(
            "id", "thread_id"
        )
        for pk, thread_id in expired:
            took = await AgentRun.filter(id=pk, status=RUNNING, lease_expires_at__lt=now).update(
                status=FAILED, finished_at=now, lease_expires_at=None
            )
            if not took:
                continue
            ended += 1
            observe_run(WORKER_LOST.lower(), None)  # its duration died with its worker
            log.warning("run %s: its worker stopped renewing the lease; ending it", pk)
            event = RunErrorEvent(
                message="The run was interrupted: the worker executing it stopped.",
                code=WORKER_LOST,
            ).model_dump(by_alias=True, exclude_none=True, mode="json")
            event_id = await self.services.streams.append(str(thread_id), event)
            thread = await AgentThread.get_or_none(id=thread_id)
            if thread is not None:
                await checkpoint(thread, event_id=event_id)
            following = await self._next_in_line(thread_id)
            if following is not None:
                await self.services.run_queue.submit(following)
        # Queued runs no job is going to pick up (e.g. their predecessor's worker died between
        # finishing it and claiming the next): hand them out again; claiming is idempotent.
        stale = now - self._lease
        for pk, thread_id in await AgentRun.filter(status=QUEUED, created_at__lt=stale).values_list(
            "id", "thread_id"
        ):
            blocked = await AgentRun.filter(
                thread_id=thread_id, id__lt=pk, status__in=UNFINISHED
            ).exists()
            if not blocked:
                await self.services.run_queue.submit(pk)
        return ended

    async def reap_forever(self) -> None:
        interval = self.services.settings.agent_reaper_interval_s
        while True:
            try:
                await self.reap()
                AGENT_QUEUE_DEPTH.set(await AgentRun.filter(status=QUEUED).count())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the run reaper failed; retrying")
            await asyncio.sleep(interval)
