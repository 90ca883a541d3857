"""`runtime-api` as a child process: its command, a clean environment, a free port, waiting.

Shared by the bench (bench/processes.py) and the tests (tests/support/server_process.py). It
lives here rather than under tests/ because the bench must not depend on the test suite, while
the tests already import the bench (neither is part of the installed package, and the import
contracts in pyproject.toml leave tests/ out).

A child's environment is ours minus every variable `Settings` reads, plus exactly what the caller
passes, so a developer's shell never leaks into the server under test or measurement.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from config import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# Every variable Settings reads (pydantic-settings matches names case-insensitively).
SETTINGS_VARIABLES = frozenset(name.upper() for name in Settings.model_fields)


def runtime_api_command() -> list[str]:
    """The installed console script, or the module when the package is not installed."""
    script = Path(sys.executable).with_name("runtime-api")
    if script.is_file():
        return [str(script)]
    found = shutil.which("runtime-api")
    return [found] if found else [sys.executable, "-m", "server.cli"]


def child_env(
    extra: Mapping[str, str] | None = None, *, drop_prefixes: tuple[str, ...] = ("RUNTIME_API_",)
) -> dict[str, str]:
    """Our environment without the settings' variables and those starting with `drop_prefixes`,
    plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in SETTINGS_VARIABLES and not key.startswith(drop_prefixes)
    }
    # Importable even when the package is not installed (`python -m server.cli`).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_200(url: str, process: subprocess.Popen[Any], timeout: float) -> bool:
    """Poll `url` until it answers 200 (True), or until `process` exits or `timeout` passes
    (False: the caller says which, with the log it has)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    return False


def wait_for_match(
    read_log: Callable[[], str],
    pattern: str,
    *,
    after: int,
    timeout: float,
    running: Callable[[], bool],
) -> re.Match[str] | None:
    """The first match of `pattern` in `read_log()` past character `after`, waiting for it;
    None once `timeout` passes or the process stops `running` without it."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        match = regex.search(read_log(), after)
        if match:
            return match
        if time.monotonic() > deadline or not running():
            return None
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM, and SIGKILL if it has not exited after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
