"""wrk, the HTTP load generator (Debian package `wrk`), with bench/wrk_auth.lua."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.child_process import REPO_ROOT, child_env

LUA_SCRIPT = Path(__file__).with_name("wrk_auth.lua")
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-wrk.sh"
THREADS = 2
CONNECTIONS = 64


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: running scripts/install-wrk.sh", flush=True)
    result = subprocess.run(["sh", str(INSTALL_SCRIPT)], check=False)
    found = shutil.which("wrk")
    if result.returncode != 0 or not found:
        raise SystemExit(
            "bench needs wrk (Debian: apt-get install -y wrk); scripts/install-wrk.sh failed"
        )
    return found


@dataclass
class WrkResult:
    requests_per_s: float
    requests: int
    non_2xx: int  # wrk counts statuses > 399 as errors.status
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


def run_wrk(
    url: str,
    token: str,
    duration_s: int,
    *,
    method: str = "GET",
    body: str = "",
    connections: int = CONNECTIONS,
    threads: int = THREADS,
) -> WrkResult:
    env = child_env({"BENCH_TOKEN": token, "BENCH_METHOD": method, "BENCH_BODY": body})
    argv = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    result = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{result.stdout}{result.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = data["errors"]
    latency = data["latency_us"]
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        requests_per_s=round(data["requests"] / seconds, 1) if seconds else 0.0,
        requests=data["requests"],
        non_2xx=errors["status"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
    )
