"""Stock JavaScript clients (graphql-ws, Apollo, subscriptions-transport-ws, eventsource,
@ag-ui/client) run as Node scripts from `tests/node/`, driven line by line from a test.

Each script reads one JSON object on stdin and prints JSON lines, each with a `type`; the last
is `done`. `node_script(name, payload)` starts one without blocking the event loop (the server
under test, from `live_server`, runs in the same loop); `line(kind)` waits for the next line of
that kind (e.g. `ready`, after which the test causes the event the client waits for) and
`finish()` waits for the script to exit and returns every line it printed. An `unhandled` line
(an unhandled rejection or uncaught exception in the client) fails `finish()`.

`require_node()` skips a test when Node or npm is missing, or fails it under
`RUNTIME_API_REQUIRE_SERVICES=1`, the convention of the other optional-tool tests.

`ErrorLog` collects log records at ERROR and above from the root and uvicorn loggers (uvicorn's
own do not propagate to the root, so pytest's caplog misses its "Exception in ASGI application").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.support.agui_node import NODE_DIR, AguiNodeError, ensure_node_modules, node_env, tool
from tests.support.backend import require_services

Line = dict[str, Any]

LINE_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 30.0


def require_node() -> None:
    """Skip (or, when services are required, fail) unless Node, npm and the packages are there."""
    try:
        tool("node")
        tool("npm")
        ensure_node_modules()
    except AguiNodeError as exc:
        if require_services():
            pytest.fail(str(exc))
        pytest.skip(str(exc))


class NodeScript:
    """A running client script: its output lines so far, read on demand."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.lines: list[Line] = []
        self._unread: list[Line] = []

    async def _next(self, seconds: float) -> Line | None:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), seconds)
        if not raw:
            return None
        try:
            line: Line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise AguiNodeError(f"{self.name} printed a non-JSON line: {raw!r}") from exc
        self.lines.append(line)
        return line

    async def _stderr(self) -> str:
        assert self.process.stderr is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 5)
        return (await self.process.stderr.read()).decode(errors="replace")

    async def line(self, kind: str, seconds: float = LINE_TIMEOUT_S) -> Line:
        """The next line of type `kind`; lines of other types are kept for `finish()`."""
        for index, line in enumerate(self._unread):
            if line["type"] == kind:
                return self._unread.pop(index)
        async with asyncio.timeout(seconds):
            while True:
                read = await self._next(seconds)
                if read is None:
                    raise AguiNodeError(
                        f"{self.name} exited before a {kind!r} line; it printed {self.lines}\n"
                        f"{await self._stderr()}"
                    )
                if read["type"] == "unhandled":
                    raise AguiNodeError(f"{self.name} did not end cleanly: {read}")
                if read["type"] == kind:
                    return read
                self._unread.append(read)

    async def finish(self, seconds: float = EXIT_TIMEOUT_S) -> list[Line]:
        """Every line the script printed, once it exited 0 without an unhandled error."""
        async with asyncio.timeout(seconds):
            while await self._next(seconds) is not None:
                pass
            returncode = await self.process.wait()
        unhandled = [line for line in self.lines if line["type"] == "unhandled"]
        if returncode != 0 or unhandled:
            raise AguiNodeError(
                f"{self.name} exited {returncode}: {unhandled or self.lines}\n"
                f"{await self._stderr()}"
            )
        return self.lines


@contextlib.asynccontextmanager
async def node_script(name: str, payload: dict[str, Any]) -> AsyncIterator[NodeScript]:
    """Run `tests/node/<name>` with `payload` on its stdin; killed if still running at exit."""
    process = await asyncio.create_subprocess_exec(
        tool("node"),
        str(NODE_DIR / name),
        cwd=NODE_DIR,
        env=node_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(payload).encode())
    await process.stdin.drain()
    process.stdin.close()
    try:
        yield NodeScript(name, process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def of_type(lines: list[Line], kind: str) -> list[Line]:
    return [line for line in lines if line["type"] == kind]


class ErrorLog(logging.Handler):
    """Log records at ERROR and above, from the root logger and uvicorn's."""

    # uvicorn's children (uvicorn.error, uvicorn.asgi) propagate to "uvicorn", which does not
    # propagate to the root.
    LOGGERS = ("", "uvicorn")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @contextlib.contextmanager
    def capture(self) -> Iterator[ErrorLog]:
        """Attach to the loggers; start it after `live_server`, which reconfigures uvicorn's."""
        loggers = [logging.getLogger(name) for name in self.LOGGERS]
        for logger in loggers:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger in loggers:
                logger.removeHandler(self)

    def summary(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in self.records]
