"""The table on stdout and bench/results.json, with a description of the machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import Bench, Row

RESULTS_PATH = Path(__file__).with_name("results.json")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else None


def machine() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_mib": _memory_mib(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": _version(["wrk", "-v"]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table(rows: list[Row]) -> str:
    headers = ("scenario", "measured", "target", "verdict")
    cells = [(r.scenario, r.measured, r.target, r.verdict) for r in rows]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]

    def line(values: tuple[str, ...]) -> str:
        return " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def write_results(bench: Bench, info: dict[str, Any], extra: dict[str, Any]) -> Path:
    data = {
        "profile": bench.profile.name,
        "machine": info,
        **extra,
        "rows": [
            {
                "scenario": r.scenario,
                "measured": r.measured,
                "target": r.target,
                "verdict": r.verdict,
                "details": r.details,
            }
            for r in bench.rows
        ],
    }
    RESULTS_PATH.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return RESULTS_PATH
