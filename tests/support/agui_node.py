"""AG-UI event streams checked by the official JavaScript packages (`@ag-ui/core`, `@ag-ui/client`).

The Node side lives in `tests/node/` (exact versions pinned by its `package-lock.json`):

- `verify-events.mjs` validates each event against `@ag-ui/core`'s zod event union and pipes each
  run through `@ag-ui/client`'s `transformChunks` + `verifyEvents`, the operators a stock
  `HttpAgent` applies to what it receives; it also reports, as warnings, material a stock client's
  enforcement stage would strip (unknown properties, unknown union members).
- `http-agent.mjs` runs a stock `HttpAgent` against a POST endpoint and reports what it saw.

`ensure_node_modules()` installs the packages once (`npm ci`), serialised by a file lock so
parallel pytest processes do not race; the other helpers call it themselves.

`run_http_agent` blocks; a test whose server runs inside its own event loop (`live_server`) must
use `arun_http_agent`, which does not block the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
PACKAGE_LOCK = NODE_DIR / "package-lock.json"
NODE_MODULES = NODE_DIR / "node_modules"
# npm writes this on every install; it is what tells an install from a stale one.
INSTALLED_MARKER = NODE_MODULES / ".package-lock.json"
INSTALL_LOCK = NODE_DIR / ".install.lock"
VERIFY_SCRIPT = NODE_DIR / "verify-events.mjs"
HTTP_AGENT_SCRIPT = NODE_DIR / "http-agent.mjs"

INSTALL_TIMEOUT_S = 600.0
VERIFY_TIMEOUT_S = 120.0
HTTP_AGENT_TIMEOUT_S = 60.0

TERMINAL_EVENTS = frozenset({"RUN_FINISHED", "RUN_ERROR"})

Event = dict[str, Any]


class AguiNodeError(RuntimeError):
    """The Node harness could not run (missing tools, failed install, crashed script)."""


def tool(name: str) -> str:
    """The path of `node` or `npm`; AguiNodeError when it is not on PATH."""
    found = shutil.which(name)
    if found is None:
        raise AguiNodeError(
            f"`{name}` was not found on PATH; the Node harness tests need Node.js (>= 20) "
            f"and npm to run the JavaScript client packages in {NODE_DIR}"
        )
    return found


def node_env() -> dict[str, str]:
    """The environment the harness runs Node with."""
    env = dict(os.environ)
    # The harness reports the client's deviation warnings; never let them be silenced.
    env.pop("SUPPRESS_TRANSFORMATION_WARNINGS", None)
    env.setdefault("NO_UPDATE_NOTIFIER", "1")
    return env


def _installed() -> bool:
    try:
        return INSTALLED_MARKER.stat().st_mtime >= PACKAGE_LOCK.stat().st_mtime
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    with INSTALL_LOCK.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_node_modules() -> None:
    """Install `tests/node`'s locked dependencies unless an up-to-date install is present.

    Runs `npm ci --no-audit --no-fund` when `node_modules` is missing or older than
    `package-lock.json`. Safe to call from every test and from parallel pytest processes.
    """
    tool("node")
    if _installed():
        return
    npm = tool("npm")
    with _install_lock():
        if _installed():  # another process finished the install while we waited
            return
        try:
            completed = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=NODE_DIR,
                env=node_env(),
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AguiNodeError(
                f"`npm ci` in {NODE_DIR} did not finish within {INSTALL_TIMEOUT_S:.0f} s"
            ) from exc
        if completed.returncode != 0 or not _installed():
            raise AguiNodeError(
                f"`npm ci` in {NODE_DIR} failed (exit {completed.returncode}):\n"
                f"{completed.stdout}\n{completed.stderr}"
            )


# The names other support modules imported before these helpers became public.
_tool = tool
_node_env = node_env


def _parse_output(script: Path, returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    if returncode != 0:
        raise AguiNodeError(f"{script.name} crashed (exit {returncode}):\n{stderr}\n{stdout}")
    try:
        parsed = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise AguiNodeError(f"{script.name} printed no JSON:\n{stdout}\n{stderr}") from exc
    if not isinstance(parsed, dict):
        raise AguiNodeError(f"{script.name} printed {type(parsed).__name__}, not an object")
    return parsed


def verify_runs(
    runs: Sequence[Sequence[Event]], *, require_terminal: bool = True
) -> dict[str, Any]:
    """Check runs of AG-UI events (camelCase, as on the wire) with `@ag-ui/core`/`@ag-ui/client`.

    Returns `{"ok": bool, "versions": {...}, "runs": [{"ok", "errors", "warnings"}, ...]}`, one
    entry per run in order. An inner list may hold several consecutive runs; `verifyEvents`
    checks them in sequence. With `require_terminal` (the default) a run whose last event is not
    RUN_FINISHED or RUN_ERROR is an error. Warnings (material a stock client would strip) do not
    affect `ok`.
    """
    ensure_node_modules()
    payload = json.dumps({"runs": [list(run) for run in runs], "requireTerminal": require_terminal})
    try:
        completed = subprocess.run(
            [tool("node"), str(VERIFY_SCRIPT)],
            cwd=NODE_DIR,
            env=node_env(),
            input=payload,
            capture_output=True,
            text=True,
            timeout=VERIFY_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AguiNodeError(f"{VERIFY_SCRIPT.name} did not finish in {VERIFY_TIMEOUT_S} s") from exc
    return _parse_output(VERIFY_SCRIPT, completed.returncode, completed.stdout, completed.stderr)


def split_runs(events: Sequence[Event]) -> list[list[Event]]:
    """Split a flat event stream into runs: each RUN_STARTED up to its RUN_FINISHED/RUN_ERROR.

    Nothing is dropped, so the verifier still sees every defect: events outside any run form a
    run of their own (which fails "first event must be RUN_STARTED"), a RUN_STARTED while a run
    is open closes the open one unterminated, and an unterminated tail is returned as it is.
    """
    runs: list[list[Event]] = []
    current: list[Event] | None = None
    for event in events:
        kind = event.get("type")
        if kind == "RUN_STARTED" and current:
            runs.append(current)
            current = None
        if current is None:
            current = []
        current.append(event)
        if kind in TERMINAL_EVENTS:
            runs.append(current)
            current = None
    if current:
        runs.append(current)
    return runs


def verify_stream(events: Sequence[Event], *, require_terminal: bool = True) -> dict[str, Any]:
    """`verify_runs(split_runs(events))`."""
    return verify_runs(split_runs(events), require_terminal=require_terminal)


def _http_agent_command(
    url: str,
    token: str | None,
    thread_id: str,
    run_id: str,
    message: str,
    tools: Sequence[dict[str, Any]] | None,
    resume: Sequence[dict[str, Any]] | None,
    context: Sequence[dict[str, Any]] | None,
    forwarded_props: Any,
    timeout_s: float,
) -> list[str]:
    command = [
        tool("node"),
        str(HTTP_AGENT_SCRIPT),
        "--url",
        url,
        "--thread",
        thread_id,
        "--run",
        run_id,
        "--message",
        message,
        "--timeout-ms",
        str(int(timeout_s * 1000)),
    ]
    if token is not None:
        command += ["--token", token]
    if tools is not None:
        command += ["--tools-json", json.dumps(list(tools))]
    if resume is not None:
        command += ["--resume-json", json.dumps(list(resume))]
    if context is not None:
        command += ["--context-json", json.dumps(list(context))]
    if forwarded_props is not None:
        command += ["--forwarded-props-json", json.dumps(forwarded_props)]
    return command


def run_http_agent(
    url: str,
    token: str | None,
    thread_id: str,
    run_id: str,
    message: str,
    tools: Sequence[dict[str, Any]] | None = None,
    *,
    resume: Sequence[dict[str, Any]] | None = None,
    context: Sequence[dict[str, Any]] | None = None,
    forwarded_props: Any = None,
    timeout_s: float = HTTP_AGENT_TIMEOUT_S,
) -> dict[str, Any]:
    """Run a stock `@ag-ui/client` `HttpAgent` once against `url`; blocks until it is done.

    Returns `{"ok": True, "events": [type, ...], "rawEvents", "newMessages", "result",
    "runFinished", "runError", "messages", "state", "pendingInterrupts", "warnings", ...}` or
    `{"ok": False, "error": str, "status": int | None, "payload", "events", ...}`.
    `ok` means `runAgent` resolved: a stream ending in RUN_ERROR still resolves (with `runError`
    set and `runFinished` None), while a stream `verifyEvents`/the schemas reject, an HTTP error
    or a timeout gives `ok: False`. `runFinished.outcome` is "success" (with
    `pendingToolCallIds`), "interrupt" (with `interrupts`) or "cancelled".
    Do not call this from a test whose server runs in the same event loop; use `arun_http_agent`.
    """
    ensure_node_modules()
    command = _http_agent_command(
        url, token, thread_id, run_id, message, tools, resume, context, forwarded_props, timeout_s
    )
    try:
        completed = subprocess.run(
            command,
            cwd=NODE_DIR,
            env=node_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s + 30,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AguiNodeError(f"{HTTP_AGENT_SCRIPT.name} hung past {timeout_s + 30:.0f} s") from exc
    return _parse_output(
        HTTP_AGENT_SCRIPT, completed.returncode, completed.stdout, completed.stderr
    )


async def arun_http_agent(
    url: str,
    token: str | None,
    thread_id: str,
    run_id: str,
    message: str,
    tools: Sequence[dict[str, Any]] | None = None,
    *,
    resume: Sequence[dict[str, Any]] | None = None,
    context: Sequence[dict[str, Any]] | None = None,
    forwarded_props: Any = None,
    timeout_s: float = HTTP_AGENT_TIMEOUT_S,
) -> dict[str, Any]:
    """`run_http_agent` without blocking the event loop (for servers run by `live_server`)."""
    await asyncio.to_thread(ensure_node_modules)
    command = _http_agent_command(
        url, token, thread_id, run_id, message, tools, resume, context, forwarded_props, timeout_s
    )
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=NODE_DIR,
        env=node_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s + 30)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise AguiNodeError(f"{HTTP_AGENT_SCRIPT.name} hung past {timeout_s + 30:.0f} s") from exc
    return _parse_output(
        HTTP_AGENT_SCRIPT,
        process.returncode if process.returncode is not None else -1,
        stdout.decode(),
        stderr.decode(),
    )


PARSE_SCHEMA_SCRIPT = NODE_DIR / "parse-schema.mjs"


def parse_with_schema(schema: str, value: Any) -> dict[str, Any]:
    """Parse `value` with `@ag-ui/core/schemas`' zod schema `schema` (e.g.
    "AgentCapabilitiesSchema"). Returns `{"ok", "errors", "parsed", "version"}`."""
    ensure_node_modules()
    completed = subprocess.run(
        [tool("node"), str(PARSE_SCHEMA_SCRIPT)],
        cwd=NODE_DIR,
        env=node_env(),
        input=json.dumps({"schema": schema, "value": value}),
        capture_output=True,
        text=True,
        timeout=VERIFY_TIMEOUT_S,
        check=False,
    )
    return _parse_output(
        PARSE_SCHEMA_SCRIPT, completed.returncode, completed.stdout, completed.stderr
    )
