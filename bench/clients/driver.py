"""The orchestrator's side of a client process: start it, read its JSON lines, command it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bench.context import ServerFault
from bench.processes import REGISTRY, Child


class ClientProcess:
    def __init__(self, module: str, args: list[str], log_dir: Path) -> None:
        name = module.rsplit(".", 1)[-1] + "-client"
        self.child: Child = REGISTRY.start_client(
            name, [sys.executable, "-m", module, *args], log_dir=log_dir
        )

    async def read(self, limit_s: float) -> dict[str, Any]:
        stdout = self.child.process.stdout
        assert stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), limit_s)
        except TimeoutError:
            # Every client bounds its own waits for the server and then reports; silence past
            # the limit means it is still stuck on the server (connecting, a handshake): a FAIL
            # of the scenario, not a crash of the run.
            raise ServerFault(
                f"{self.child.name} said nothing for {limit_s}s:\n{self.child.log()[-3000:]}"
            ) from None
        if not line:
            raise RuntimeError(
                f"{self.child.name} exited ({self.child.process.poll()}):\n"
                + self.child.log()[-3000:]
            )
        data: dict[str, Any] = json.loads(line)
        return data

    def send(self, command: str) -> None:
        stdin = self.child.process.stdin
        assert stdin is not None
        stdin.write((command + "\n").encode())
        stdin.flush()

    def stop(self) -> None:
        REGISTRY.stop(self.child, timeout=5)
