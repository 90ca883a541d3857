"""A real Prometheus scrapes a running server and a worker, and its query API sees the metrics
move as the test drives traffic: the request counter, the open-SSE-stream gauge, the run counter.

Prometheus is Debian's package, installed by scripts/install-prometheus.sh when it is missing
and the test runs as root; without it the test is skipped (a failure under
RUNTIME_API_REQUIRE_SERVICES=1). On PostgreSQL + Redis the server runs two worker processes
(`serve --workers 2`, one target through the multiprocess folder) and runs execute in a separate
`runtime-api worker` with its own METRICS_PORT; on the embedded backend one server process
executes runs itself. The server's listener asks for METRICS_TOKEN, as the sample scrape config
of docs/operations.md sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.agent import new_thread, run_input
from tests.support.backend import detect
from tests.support.multiprocess import fresh_database, shared_env, sign_up
from tests.support.server_process import (
    ServerProcess,
    free_port,
    run_cli,
    running_server,
    stop_process,
)
from tests.test_agent_workers import running_worker

BACKEND = detect()
REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-prometheus.sh"
TOKEN = secrets.token_urlsafe(24)
QUERY_TIMEOUT_S = 15.0


def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    detail = ""
    if found is None and os.geteuid() == 0:
        try:
            result = subprocess.run(
                ["sh", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            detail = f" ({INSTALL_SCRIPT.name} failed: {exc})"
        else:
            detail = f" ({INSTALL_SCRIPT.name} exited {result.returncode}: {result.stderr[-500:]})"
        found = shutil.which("prometheus")
    if found is None:
        message = f"prometheus is not installed{detail}"
        if os.environ.get("RUNTIME_API_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def scrape_config(api_port: int, worker_port: int | None) -> str:
    """The scrape config of docs/operations.md, on a 1 s interval (JSON is valid YAML)."""
    jobs: list[dict[str, Any]] = [
        {
            "job_name": "api",
            "authorization": {"type": "Bearer", "credentials": TOKEN},
            "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}],
        }
    ]
    if worker_port is not None:
        jobs.append(
            {"job_name": "worker", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]}
        )
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
        "scrape_configs": jobs,
    }
    return json.dumps(config)


class Prometheus:
    def __init__(self, base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log

    def _get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                if self._get("/-/ready")[0] == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"Prometheus did not start:\n{self.log.read_text()[-3000:]}")

    def query(self, promql: str) -> float | None:
        """The value of a query that gives one sample (a `sum(...)`); None when it gives none."""
        status, body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert status == 200, body
        answer = json.loads(body)
        assert answer["status"] == "success", answer
        result = answer["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    async def wait_for(self, promql: str, wanted: float) -> None:
        deadline = time.monotonic() + QUERY_TIMEOUT_S
        seen: float | None = None
        while time.monotonic() < deadline:
            seen = await asyncio.to_thread(self.query, promql)
            if seen == wanted:
                return
            await asyncio.sleep(0.25)
        raise AssertionError(f"{promql} stayed {seen}, never {wanted}:\n{self.targets()}")

    def targets(self) -> str:
        return self._get("/api/v1/targets")[1].decode()[:3000]


@contextlib.contextmanager
def running_prometheus(binary: str, root: Path, config: str) -> Iterator[Prometheus]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "prometheus.yml").write_text(config)
    port = free_port()
    log = root / "prometheus.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        prometheus = Prometheus(f"http://127.0.0.1:{port}", process, log)
        try:
            prometheus.wait_ready()
            yield prometheus
        finally:
            stop_process(process)


@dataclass
class Deployment:
    server: ServerProcess  # scraped on `api_port`
    api_port: int
    worker_port: int | None  # the separate worker's metrics (None: the server executes runs)
    user: dict[str, str]


@contextlib.asynccontextmanager
async def deployment(root: Path) -> AsyncIterator[Deployment]:
    """The server (and, with Redis, a worker), each with its metrics port, and a user."""
    api_port = free_port()
    metrics = {"METRICS_PORT": str(api_port), "METRICS_TOKEN": TOKEN}
    cheap = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST_KIB": "1024"}
    if not BACKEND.real:
        env = {"JWT_SECRET": secrets.token_urlsafe(48), **cheap, **metrics}
        with running_server(root / "api", env) as server:
            yield Deployment(server, api_port, None, await sign_up(server, "scraped"))
        return
    assert BACKEND.redis_url is not None
    async with fresh_database() as database_url:
        env = shared_env(database_url, BACKEND.redis_url, "prom", AGENT_WORKER_IN_SERVER="false")
        migrated = await asyncio.to_thread(run_cli, "migrate", cwd=root, env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        worker_port = free_port()
        worker_env = {**env, "METRICS_PORT": str(worker_port)}
        with contextlib.ExitStack() as stack:
            # Started side by side. The sign-up goes through a one-process server of the same
            # deployment: its console mailer's codes reach its log (uvicorn's spawned workers
            # do not inherit the parent's logging set-up).
            server, signup, _ = await asyncio.gather(
                asyncio.to_thread(
                    stack.enter_context,
                    running_server(root / "api", {**env, **metrics}, workers=2),
                ),
                asyncio.to_thread(stack.enter_context, running_server(root / "signup", env)),
                asyncio.to_thread(
                    stack.enter_context, running_worker(root / "worker", worker_env, "w")
                ),
            )
            try:
                user = await sign_up(signup, "scraped")
                yield Deployment(server, api_port, worker_port, user)
            finally:
                await asyncio.to_thread(stack.close)


async def hold_sse(url: str, token: str, opened: asyncio.Event, release: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        opened.set()
        await release.wait()


async def test_prometheus_sees_requests_streams_and_runs_move(tmp_path: Path) -> None:
    binary = await asyncio.to_thread(_prometheus_binary)
    async with deployment(tmp_path) as deployed:
        server, user, worker_port = deployed.server, deployed.user, deployed.worker_port
        config = scrape_config(deployed.api_port, worker_port)
        with running_prometheus(binary, tmp_path / "prometheus", config) as prometheus:
            await prometheus.wait_for('sum(up{job="api"})', 1)
            auth = {"Authorization": f"Bearer {user['token']}"}
            me = 'sum(runtime_api_http_requests_total{route="/api/v1/users/me",status="200"})'
            streams = "sum(runtime_api_sse_streams_open)"
            runs = 'sum(runtime_api_agent_runs_total{outcome="finished"})'
            await prometheus.wait_for(streams, 0)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
                # Spread over `serve`'s processes, counted once each: the scrape sums them all.
                for _ in range(7):
                    assert (await client.get("/api/v1/users/me", headers=auth)).status_code == 200
                await prometheus.wait_for(me, 7)

                thread = new_thread()
                opened, release = asyncio.Event(), asyncio.Event()
                url = f"{server.base_url}/api/v1/agent/runs/{thread}/events"
                watcher = asyncio.create_task(hold_sse(url, user["token"], opened, release))
                await asyncio.wait_for(opened.wait(), 10)
                await prometheus.wait_for(streams, 1)

                assert await asyncio.to_thread(prometheus.query, runs) in (None, 0.0)
                body = run_input(thread, text="hello")
                response = await client.post("/api/v1/agent/runs", json=body, headers=auth)
                assert response.status_code == 202, response.text
                await prometheus.wait_for(runs, 1)
                if worker_port is not None:  # executed by the worker, scraped on its own port
                    await prometheus.wait_for(
                        'sum(runtime_api_agent_runs_total{job="worker",outcome="finished"})', 1
                    )
                release.set()
                await watcher
                await prometheus.wait_for(streams, 0)
