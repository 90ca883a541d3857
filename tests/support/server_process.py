"""`runtime-api` as a real process: the command line, and `serve` on a free loopback port.

Tests that need what only a real server has (websockets, the console mailer's log, the
zero-configuration start-up) run it here. The child's environment is the test process's minus
every variable `Settings` reads, plus what the test passes, so a developer's shell never leaks
in; its working directory is a fresh temporary one, so `./data/` and `.env` are the test's own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0

# Every variable Settings reads (pydantic-settings matches names case-insensitively).
SETTINGS_VARIABLES = frozenset(name.upper() for name in Settings.model_fields)


def runtime_api_command() -> list[str]:
    """The installed console script, or the module when the package is not installed."""
    script = Path(sys.executable).with_name("runtime-api")
    if script.is_file():
        return [str(script)]
    found = shutil.which("runtime-api")
    return [found] if found else [sys.executable, "-m", "server.cli"]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in SETTINGS_VARIABLES
        and not key.startswith(("RUNTIME_API_", "OTEL_"))  # tracing: only when a test asks
    }
    # Importable even when the package is not installed (`python -m server.cli`).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.log(), after)
            if match:
                return match
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{pattern!r} never appeared in the server log:\n{self.log()}")
            time.sleep(0.05)


def _wait_until_healthy(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"{server.base_url}/api/v1/health"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"runtime-api serve exited with {server.process.returncode}:\n{server.log()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise RuntimeError(
        f"runtime-api serve did not answer {url} in {START_TIMEOUT_S}s:\n{server.log()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
            _stop(process)
