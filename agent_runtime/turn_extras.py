"""What a model turn streams besides its answer: reasoning, as AG-UI `REASONING_*` events, and
token usage, summed over the run's turns for `RUN_FINISHED.usage` / `RUN_ERROR.usage`.

Reasoning is shown while it streams and is not stored in the thread's history: it is not sent
back to the model (DeepSeek's API rejects it in input), and `@ag-ui/client` keeps the reasoning
messages it built from the events when a `MESSAGES_SNAPSHOT` has none.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ag_ui.core import (
    BaseEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    TokenUsage,
)
from ag_ui.core.token_usage import aggregate_token_usage

from agent_runtime.chat_model import UsageReport

Emit = Callable[[BaseEvent], Awaitable[str]]


class ReasoningStream:
    """One block of reasoning at a time: opened by its first piece, closed before anything else
    the turn streams (and when the turn ends or is cancelled)."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._id: str | None = None

    @property
    def open(self) -> bool:
        return self._id is not None

    async def add(self, text: str) -> None:
        if not text:
            return
        if self._id is None:
            self._id = str(uuid.uuid4())
            await self._emit(ReasoningStartEvent(message_id=self._id))
            await self._emit(ReasoningMessageStartEvent(message_id=self._id, role="reasoning"))
        await self._emit(ReasoningMessageContentEvent(message_id=self._id, delta=text))

    async def close(self) -> None:
        if self._id is None:
            return
        message_id, self._id = self._id, None
        await self._emit(ReasoningMessageEndEvent(message_id=message_id))
        await self._emit(ReasoningEndEvent(message_id=message_id))


class RunUsage:
    """The token usage of a run's model turns, one AG-UI `TokenUsage` per (provider, model)."""

    def __init__(self, model_name: str) -> None:
        provider, _, model = model_name.partition(":")
        self._provider = provider if model else None
        self._model = model or model_name
        self._entries: list[TokenUsage] = []

    def add(self, report: UsageReport) -> None:
        self._entries.append(
            TokenUsage(
                provider=self._provider,
                model=self._model,
                input_tokens=report.input_tokens,
                output_tokens=report.output_tokens,
                total_tokens=report.total_tokens,
                reasoning_tokens=report.reasoning_tokens,
                cached_input_tokens=report.cached_input_tokens,
            )
        )

    def summary(self) -> list[TokenUsage] | None:
        """For the terminal event: None (the field left out) when no turn reported usage."""
        return aggregate_token_usage(self._entries) if self._entries else None

    def as_json(self) -> list[dict[str, Any]] | None:
        """For the run's row: the summary as it is on the wire (camelCase)."""
        summary = self.summary()
        if summary is None:
            return None
        return [u.model_dump(by_alias=True, exclude_none=True, mode="json") for u in summary]
