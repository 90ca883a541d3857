"""Child processes: `runtime-api serve` / `worker`, the floor app, the client processes.

Every process started here is recorded in `REGISTRY` and stopped by `REGISTRY.stop_all()`
(called from a `finally` and from the signal handlers of `__main__`), so nothing outlives a run.
Children get a clean environment: the bench's own minus every variable `Settings` reads, plus
exactly the configuration the scenario passes (bench/child_process.py, which
tests/support/server_process.py uses too).
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.child_process import (
    REPO_ROOT,
    child_env,
    free_port,
    runtime_api_command,
    stop_process,
    wait_for_200,
    wait_for_match,
)

START_TIMEOUT_S = 30.0


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by the children we start)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
    return target


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for_log(self, pattern: str, *, after: int = 0, timeout: float = 15) -> re.Match[str]:
        match = wait_for_match(self.log, pattern, after=after, timeout=timeout, running=self.alive)
        if match is None:
            raise RuntimeError(f"{pattern!r} never appeared in the log of {self.name}")
        return match


@dataclass
class Registry:
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_dir: Path,
    ) -> Child:
        log_path = log_dir / f"{name}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=child_env(env),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop them ourselves
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def start_client(self, name: str, argv: Sequence[str], *, log_dir: Path) -> Child:
        """A client process with pipes: JSON lines on its stdout, commands on its stdin."""
        log_path = log_dir / f"{name}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                list(argv),
                cwd=REPO_ROOT,
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                start_new_session=True,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def stop(self, child: Child, timeout: float = 10) -> None:
        stop_process(child.process, timeout)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            try:
                self.stop(child, timeout=5)
            except Exception:
                with contextlib.suppress(OSError):
                    child.process.kill()


REGISTRY = Registry()


def wait_http_ok(child: Child, url: str, timeout: float = START_TIMEOUT_S) -> None:
    if wait_for_200(url, child.process, timeout):
        return
    if not child.alive():
        raise RuntimeError(
            f"{child.name} exited with {child.process.returncode}:\n{child.log()[-4000:]}"
        )
    raise RuntimeError(f"{child.name} did not answer {url} in {timeout}s:\n{child.log()[-4000:]}")


@dataclass
class Server:
    child: Child
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def start_server(name: str, env: Mapping[str, str], work_dir: Path, workers: int = 1) -> Server:
    """`runtime-api serve` on a free port, as production runs it: one process, or
    `--workers N` (uvicorn's supervisor and N worker processes sharing the socket)."""
    port = free_port()
    argv = [*runtime_api_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    child = REGISTRY.start(name, argv, env=env, cwd=work_dir, log_dir=work_dir)
    server = Server(child, port)
    wait_http_ok(child, f"{server.base_url}/api/v1/health")
    if workers > 1:
        _wait_workers(server, workers)
    return server


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _wait_workers(server: Server, workers: int) -> None:
    """The supervisor answers health once one worker is up: wait for all of them (each of
    uvicorn's workers is a child process; each answers once its app has started)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(child_pids(server.child.pid)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.child.name}: fewer than {workers} worker processes")
        time.sleep(0.1)
    for _ in range(workers * 20):  # the kernel spreads connections: each worker answers some
        wait_http_ok(server.child, f"{server.base_url}/api/v1/health")


def start_worker(name: str, env: Mapping[str, str], work_dir: Path) -> Child:
    child = REGISTRY.start(
        name, [*runtime_api_command(), "worker"], env=env, cwd=work_dir, log_dir=work_dir
    )
    child.wait_for_log(r"agent worker \S+ ready", timeout=START_TIMEOUT_S)
    return child


def start_floor(env: Mapping[str, str], work_dir: Path) -> Server:
    """bench/baseline.py under uvicorn, one process, the server's loop and HTTP parser."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baseline:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    child = REGISTRY.start("floor", argv, env=env, cwd=REPO_ROOT, log_dir=work_dir)
    server = Server(child, port)
    wait_http_ok(child, f"{server.base_url}/health")
    return server


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [*runtime_api_command(), *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"runtime-api {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


# --- what a process uses ---------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS, KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def tcp_connections_to(pid: int, remote_port: int) -> int:
    """Established TCP connections of `pid` to `remote_port` (e.g. Redis' 6379), from /proc."""
    inodes = _socket_inodes(pid)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split()
            remote, state, inode = parts[2], parts[3], parts[9]
            if (
                state == "01"
                and inode in inodes
                and int(remote.rsplit(":", 1)[1], 16) == remote_port
            ):
                count += 1
    return count
