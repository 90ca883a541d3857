"""Executing agent runs in a process: the queue consumer plus the reaper.

`runtime-api worker` runs one of these; so does `serve` when it executes runs itself (embedded
mode, or AGENT_WORKER_IN_SERVER=true).
"""

from __future__ import annotations

import asyncio
import contextlib

from agent_runtime.chat_model import ChatModel
from agent_runtime.executor import RunExecutor
from agent_runtime.model_choice import build_chat_model
from infra.services import Services
from infra.tasks import stop_task


class AgentWorker:
    def __init__(self, services: Services, model: ChatModel | None = None) -> None:
        self.services = services
        self.model = model or build_chat_model(services.settings)
        self.executor = RunExecutor(services, self.model)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        queue = self.services.run_queue
        queue.register(self.executor.execute)
        await queue.start()
        self._tasks = [
            asyncio.create_task(queue.serve(), name="agent-queue"),
            asyncio.create_task(self.executor.reap_forever(), name="agent-reaper"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        self._tasks = []
        close = getattr(self.model, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
