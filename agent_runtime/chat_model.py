"""What the run executor asks of a language model, whichever one stands behind it.

A model turn is a stream of chunks: pieces of the assistant's text, of its reasoning and of tool
calls, and the turn's token usage. The executor turns them into AG-UI events (`TEXT_MESSAGE_*`,
`REASONING_*`, `TOOL_CALL_*`, the usage of `RUN_FINISHED`), executes server tools and
calls the model again with their results, so a model implementation never touches the event stream,
the database or the thread's state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ag_ui.core import Message, Tool


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The next piece of the assistant's text answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """The next piece of one tool call. Every delta of a call repeats its `call_id` and `name`;
    `arguments` is the next slice of the call's JSON arguments text (possibly empty)."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """The next piece of the model's visible reasoning (`reasoning_content` / `reasoning` of
    DeepSeek, Qwen and vLLM servers), streamed before its answer. Never sent back to the model
    and not stored in the thread's history."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The token counts the endpoint reported for the turn (at most one per turn). `None` is
    "not reported", which is not zero."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_input_tokens: int | None = None


ModelChunk = TextDelta | ToolCallDelta | ReasoningDelta | UsageReport


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One model turn's input: the conversation so far (AG-UI messages, oldest first, including
    assistant tool calls and tool results), the tools the model may call (server tools and the
    client's frontend tools alike), the current time and the user's time zone (IANA name) for
    understanding words like "tomorrow", and the `context` entries the client sent."""

    messages: list[Message]
    tools: list[Tool]
    now: datetime
    timezone: str = "UTC"
    context: list[str] = field(default_factory=list)


class ModelError(Exception):
    """The model could not answer (unreachable endpoint, bad response). The run ends with
    `RUN_ERROR` carrying this message, which must be safe to show to the user."""


class ChatModel(Protocol):
    """A language model that streams one assistant turn."""

    name: str

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Yield the turn's chunks in order. A turn may contain text, tool calls, or both; tool
        call ids must be unique within the thread (use uuid4-based ids)."""
        ...
