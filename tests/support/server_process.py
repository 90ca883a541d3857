"""`runtime-api` as a real process: the command line, and `serve` on a free loopback port.

Tests that need what only a real server has (websockets, the console mailer's log, the
zero-configuration start-up) run it here. The child's environment is the test process's minus
every variable `Settings` reads, plus what the test passes, so a developer's shell never leaks
in; its working directory is a fresh temporary one, so `./data/` and `.env` are the test's own.
The parts the bench shares (the command, the environment, waiting) are in bench/child_process.py.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench import child_process
from bench.child_process import REPO_ROOT as REPO_ROOT
from bench.child_process import free_port as free_port
from bench.child_process import runtime_api_command as runtime_api_command
from bench.child_process import stop_process as stop_process
from bench.child_process import wait_for_200, wait_for_match

START_TIMEOUT_S = 20.0


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # Tracing (OTEL_*) too: only when a test asks for it.
    return child_process.child_env(extra, drop_prefixes=("RUNTIME_API_", "OTEL_"))


def run_cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `runtime-api ARGS` to completion; never raises on a non-zero exit."""
    return subprocess.run(
        [*runtime_api_command(), *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class ServerProcess:
    base_url: str
    cwd: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, pattern: str, *, after: int = 0, timeout: float = 10) -> re.Match[str]:
        """The first match of `pattern` in the log past character `after`, waiting for it."""
        match = wait_for_match(
            self.log,
            pattern,
            after=after,
            timeout=timeout,
            running=lambda: self.process.poll() is None,
        )
        if match is None:
            raise AssertionError(f"{pattern!r} never appeared in the server log:\n{self.log()}")
        return match


def _wait_until_healthy(server: ServerProcess) -> None:
    url = f"{server.base_url}/api/v1/health"
    if wait_for_200(url, server.process, START_TIMEOUT_S):
        return
    if server.process.poll() is not None:
        raise RuntimeError(
            f"runtime-api serve exited with {server.process.returncode}:\n{server.log()}"
        )
    raise RuntimeError(
        f"runtime-api serve did not answer {url} in {START_TIMEOUT_S}s:\n{server.log()}"
    )


@contextlib.contextmanager
def running_server(
    cwd: Path, env: Mapping[str, str] | None = None, *, workers: int = 1
) -> Iterator[ServerProcess]:
    """`runtime-api serve [--workers N]` on a free loopback port with `cwd` as working directory.

    `env` is the whole configuration: nothing else from the test's environment reaches the
    server (see `child_env`). Yields once /api/v1/health answers; stops the server afterwards.
    """
    cwd.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = cwd.parent / f"{cwd.name}-server-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                *runtime_api_command(),
                *("serve", "--host", "127.0.0.1", "--port", str(port)),
                *("--workers", str(workers)),
            ],
            cwd=cwd,
            env=child_env(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = ServerProcess(f"http://127.0.0.1:{port}", cwd, process, log_path)
        try:
            _wait_until_healthy(server)
            yield server
        finally:
            stop_process(process)
