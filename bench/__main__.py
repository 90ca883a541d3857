"""`python -m bench [--quick] [--scenario NAME ...]`: set up, run the scenarios, report, clean up.

Exit status 0 when every scenario ran (whatever the verdicts), 1 when one crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from types import FrameType

from bench import report
from bench.context import Bench, Row, ServerFault
from bench.processes import REGISTRY, raise_fd_limit
from bench.profile import FULL, QUICK
from bench.scenarios import calendar, fanout, listing, metrics_overhead, runs, signin
from bench.wrk import ensure_wrk

Scenario = Callable[[Bench], Awaitable[None]]

# In the order they run: the list scenarios before growth enlarges the table.
SCENARIOS: dict[str, Scenario] = {
    "floor": listing.floor,
    "rest": listing.rest,
    "graphql": listing.graphql,
    "metrics": metrics_overhead.metrics_overhead,
    "growth": listing.growth,
    "sse": fanout.sse,
    "ws": fanout.ws,
    "mixed": fanout.mixed,
    "sse-workers": fanout.sse_workers,
    "calendar": calendar.calendar,
    "run-latency": runs.run_latency,
    "sign-in": signin.sign_in,
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (about three minutes)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        metavar="NAME",
        help=f"run only these (repeatable): {', '.join(SCENARIOS)}",
    )
    return parser.parse_args(argv)


def _selected(names: list[str] | None) -> list[str]:
    if not names:
        return list(SCENARIOS)
    chosen = set(names)
    if chosen & {"rest", "graphql", "metrics"}:
        chosen.add("floor")  # their figures are ratios to it
    return [name for name in SCENARIOS if name in chosen]


async def _run(bench: Bench, names: list[str]) -> bool:
    print(f"setting up (database, server, data) in {bench.work_dir}", flush=True)
    await bench.setup()
    crashed = False
    for name in names:
        started = time.monotonic()
        print(f"- {name} ...", flush=True)
        try:
            await SCENARIOS[name](bench)
        except ServerFault as exc:  # the server's failure, not the bench's
            bench.rows.append(Row(name, f"server fault: {exc}"[:200], "-", "FAIL"))
        except Exception as exc:
            crashed = True
            traceback.print_exc()
            bench.rows.append(Row(name, f"{type(exc).__name__}: {exc}"[:200], "-", "ERROR"))
        print(f"  done in {time.monotonic() - started:.1f}s", flush=True)
    return crashed


def _server_log_problems(bench: Bench) -> list[str]:
    """Error lines of the logs of every server and worker the run started (scenarios start
    servers of their own too): worth a look after every run."""
    lines: list[str] = []
    for path in sorted(bench.work_dir.glob("*.log")):
        if path.stem.endswith("-client"):
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if any(word in line for word in ("ERROR", "Traceback", "CRITICAL", "Exception")):
                lines.append(f"{path.stem}: {line}")
    return lines


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    profile = QUICK if args.quick else FULL
    names = _selected(args.scenario)
    signal.signal(signal.SIGTERM, _terminate)
    ensure_wrk()
    raise_fd_limit()
    bench = Bench(profile)
    started = time.monotonic()
    crashed = True
    log_problems: list[str] = []
    try:
        crashed = asyncio.run(_run(bench, names))
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
    except Exception:
        traceback.print_exc()
    finally:
        log_problems = _server_log_problems(bench)
        REGISTRY.stop_all()
        problems = asyncio.run(bench.cleanup())
        for problem in problems:
            print(f"cleanup: {problem}", file=sys.stderr)
    info = report.machine()
    elapsed = time.monotonic() - started
    print()
    print(
        f"bench ({profile.name}) on {info['cpu_model']}, {info['cores']} cores, "
        f"Python {info['python']}, {elapsed:.0f}s"
    )
    print(report.table(bench.rows))
    if "explain" in bench.extra:
        print("\nEXPLAIN ANALYZE of the list query after growth:\n" + bench.extra["explain"])
    if log_problems:
        print(f"\nserver/worker log: {len(log_problems)} error line(s); first ones:")
        for line in log_problems[:10]:
            print("  " + line[:300])
    path = report.write_results(
        bench,
        info,
        {
            "elapsed_s": round(elapsed, 1),
            "scenarios": names,
            "server_log_errors": log_problems[:50],
        },
    )
    print(f"\nwrote {path}; logs of the processes in {bench.work_dir}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
