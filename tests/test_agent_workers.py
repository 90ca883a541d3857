"""Agent runs executed by separate `runtime-api worker` processes over PostgreSQL and Redis:
runs complete through the real queue, and a worker killed with SIGKILL mid-run leaves no run
stuck (docs/contract.md §5, last bullet). Only on the real backend: the embedded one has no shared
queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.support.agent import SseEvent, read_sse, run_input, runs_done
from tests.support.backend import detect
from tests.support.multiprocess import fresh_database, servers, shared_env, sign_up
from tests.support.server_process import (
    ServerProcess,
    child_env,
    run_cli,
    runtime_api_command,
    stop_process,
)

BACKEND = detect()
pytestmark = pytest.mark.skipif(
    not BACKEND.real, reason="needs PostgreSQL and Redis shared by server and worker processes"
)

LEASE_S = 1.5
REAPER_S = 0.5


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"agent worker \S+ ready", self.log()):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the worker did not start:\n{self.log()}")


@contextlib.contextmanager
def running_worker(cwd: Path, env: dict[str, str], name: str) -> Iterator[WorkerProcess]:
    cwd.mkdir(parents=True, exist_ok=True)
    log_path = cwd / f"worker-{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*runtime_api_command(), "worker"],
            cwd=cwd,
            env=child_env(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(process, log_path)
        try:
            worker.wait_ready()
            yield worker
        finally:
            stop_process(process)


@contextlib.asynccontextmanager
async def deployment(
    root: Path, **extra: str
) -> AsyncIterator[tuple[ServerProcess, dict[str, str]]]:
    """A migrated database and one server that leaves runs to worker processes."""
    assert BACKEND.redis_url is not None
    async with fresh_database() as database_url:
        env = shared_env(
            database_url,
            BACKEND.redis_url,
            "workers",
            AGENT_WORKER_IN_SERVER="false",
            AGENT_RUN_LEASE_S=str(LEASE_S),
            AGENT_REAPER_INTERVAL_S=str(REAPER_S),
            **extra,
        )
        prefix = env["REDIS_PREFIX"]
        migrated = await asyncio.to_thread(run_cli, "migrate", cwd=root, env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        try:
            async with servers(root, env, 1) as (server,):
                yield server, env
        finally:
            redis = Redis.from_url(BACKEND.redis_url)
            async for key in redis.scan_iter(match=f"{prefix}*"):
                await redis.delete(key)
            await redis.aclose()


def events_url(server: ServerProcess, thread_id: str) -> str:
    return f"{server.base_url}/api/v1/agent/runs/{thread_id}/events"


async def post_run(server: ServerProcess, token: str, body: dict[str, object]) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{server.base_url}/api/v1/agent/runs",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 202, response.text


async def run_statuses(database_url: str) -> list[str]:
    """Every run's status once none is queued or running.

    A worker writes a run's status just after it streams the run's last event, so a reader who
    has seen `RUN_FINISHED` may still find the row `running` for a moment; call this while the
    worker is alive."""
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + 15
        while True:
            rows = await connection.fetch("SELECT status FROM agent_runs ORDER BY id")
            statuses = [row["status"] for row in rows]
            if not {"queued", "running"} & set(statuses) or time.monotonic() > deadline:
                return statuses
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


async def test_two_workers_execute_runs_from_the_queue(tmp_path: Path) -> None:
    async with deployment(tmp_path) as (server, env):
        with running_worker(tmp_path, env, "a"), running_worker(tmp_path, env, "b"):
            ann = await sign_up(server, "ann")
            threads = [str(uuid.uuid4()) for _ in range(3)]
            for thread in threads:
                for n in range(2):
                    await post_run(server, ann["token"], run_input(thread, f"r{n}", "hello"))
            reads = await asyncio.gather(
                *(
                    read_sse(
                        events_url(server, t),
                        {"Authorization": f"Bearer {ann['token']}"},
                        until=runs_done(2),
                        timeout_s=30,
                    )
                    for t in threads
                )
            )
            assert await run_statuses(env["DATABASE_URL"]) == ["finished"] * 6
        for read in reads:
            finished = [e.data for e in read.events if e.event == "RUN_FINISHED"]
            assert [f["runId"] for f in finished] == ["r0", "r1"], read.types()


async def test_a_worker_killed_mid_run_leaves_no_run_stuck(tmp_path: Path) -> None:
    # Slow the offline model down so that the run is surely in the middle when the kill comes.
    async with deployment(tmp_path, AGENT_MODEL_CHUNK_DELAY_S="0.4") as (server, env):
        ann = await sign_up(server, "ann")
        auth = {"Authorization": f"Bearer {ann['token']}"}
        thread = str(uuid.uuid4())
        seen: list[SseEvent] = []
        with running_worker(tmp_path, env, "doomed") as doomed:
            await post_run(server, ann["token"], run_input(thread, "r1", "hello there"))
            first = await read_sse(
                events_url(server, thread),
                auth,
                until=lambda events: any(e.event == "TEXT_MESSAGE_CONTENT" for e in events),
                timeout_s=30,
            )
            seen = first.events
            os.kill(doomed.process.pid, signal.SIGKILL)
            doomed.process.wait()
            killed_at = time.monotonic()

        # Nobody executes runs now, yet the thread's run must end: a new worker's reaper ends
        # it with RUN_ERROR once the dead worker's lease has lapsed.
        with running_worker(tmp_path, env, "rescuer"):
            rest = await read_sse(
                events_url(server, thread),
                {**auth, "Last-Event-ID": seen[-1].id},
                timeout_s=30,
            )
            ended_after = time.monotonic() - killed_at
            assert rest.events and rest.events[-1].event == "RUN_ERROR", rest.types()
            assert rest.events[-1].data["code"] == "WORKER_LOST"
            # The lease, one reaper interval and the rescuer's start-up bound the wait.
            assert ended_after < LEASE_S + REAPER_S + 15, ended_after

            # Everything streamed before the kill is still there, in order, unrepeated.
            replay = await read_sse(events_url(server, thread), auth, timeout_s=30)
            assert [e.id for e in replay.events] == [e.id for e in seen + rest.events]

            # The thread is not blocked: its next run executes on the rescuer.
            await post_run(server, ann["token"], run_input(thread, "r2", "hello again"))
            after = await read_sse(
                events_url(server, thread),
                {**auth, "Last-Event-ID": rest.events[-1].id},
                timeout_s=30,
            )
            assert after.types()[0] == "RUN_STARTED" and after.types()[-1] == "RUN_FINISHED"
            assert await run_statuses(env["DATABASE_URL"]) == ["error", "finished"]
