"""One model turn as AG-UI events, and the assistant messages it leaves to store.

A turn's answer text is one text message; its tool calls follow, each open until a piece of
anything else arrives; text after the tool calls is a message of its own (the trailing text).
Whatever the turn has open, a reasoning block, a text message or a tool call, is closed by one
`close()`, both when the model's stream ends and when the run is cancelled in the middle of it, so
the run's events stay a valid AG-UI sequence either way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ag_ui.core import (
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

from agent_runtime.chat_model import ReasoningDelta, TextDelta, ToolCallDelta
from agent_runtime.turn_extras import Emit, ReasoningStream


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class StreamedCall:
    """A tool call as the model streamed it: its arguments are the pieces in order."""

    call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.arguments)


class TurnStream:
    """What one model turn has opened and written so far."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._reasoning = ReasoningStream(emit)
        self.message_id = _new_id()  # the answer's message, parent of the turn's tool calls
        self._text: list[str] = []
        self._text_open = False  # the answer's or the trailing text message
        self.calls: list[StreamedCall] = []
        self._open_call: StreamedCall | None = None
        self._trailing: dict[str, Any] | None = None  # text after tool calls: a message of its own

    async def add(self, chunk: TextDelta | ToolCallDelta | ReasoningDelta) -> None:
        if isinstance(chunk, ReasoningDelta):
            await self._reasoning.add(chunk.text)
            return
        await self._reasoning.close()
        if isinstance(chunk, TextDelta):
            await self._add_text(chunk.text)
        else:
            await self._add_call_piece(chunk)

    async def close(self) -> None:
        """Close the open reasoning block, text message and tool call, in that order."""
        await self._reasoning.close()
        await self._end_text()
        if self._open_call is not None:
            await self._emit(ToolCallEndEvent(tool_call_id=self._open_call.call_id))
            self._open_call = None

    def messages(self) -> list[dict[str, Any]]:
        """The turn's messages to store when it ended: the answer with its tool calls, then the
        trailing text."""
        assistant: dict[str, Any] = {"id": self.message_id, "role": "assistant"}
        if self._text:
            assistant["content"] = "".join(self._text)
        if self.calls:
            assistant["toolCalls"] = [
                {
                    "id": c.call_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.text or "{}"},
                }
                for c in self.calls
            ]
        answer = [assistant] if self._text or self.calls else []
        return answer + self._trailing_messages()

    def text_messages(self) -> list[dict[str, Any]]:
        """The turn's messages to store when it was cancelled: the text the user saw, without
        the tool calls (they never run, and a call without a result would be half-written)."""
        partial = {"id": self.message_id, "role": "assistant", "content": "".join(self._text)}
        return ([partial] if self._text else []) + self._trailing_messages()

    def _trailing_messages(self) -> list[dict[str, Any]]:
        return [self._trailing] if self._trailing is not None and self._trailing["content"] else []

    async def _add_text(self, text: str) -> None:
        if not text:
            return
        if self._open_call is not None:
            await self._emit(ToolCallEndEvent(tool_call_id=self._open_call.call_id))
            self._open_call = None
        if self.calls:
            await self._add_trailing_text(text)
            return
        if not self._text_open:
            await self._emit(TextMessageStartEvent(message_id=self.message_id, role="assistant"))
            self._text_open = True
        self._text.append(text)
        await self._emit(TextMessageContentEvent(message_id=self.message_id, delta=text))

    async def _add_trailing_text(self, text: str) -> None:
        # One trailing message per turn: text after a second run of tool calls continues it,
        # though its TEXT_MESSAGE_END was sent when that run began (kept as the turn always was).
        if self._trailing is None:
            self._trailing = {"id": _new_id(), "role": "assistant", "content": ""}
            await self._emit(
                TextMessageStartEvent(message_id=self._trailing["id"], role="assistant")
            )
            self._text_open = True
        self._trailing["content"] += text
        await self._emit(TextMessageContentEvent(message_id=self._trailing["id"], delta=text))

    async def _end_text(self) -> None:
        if self._text_open:
            message_id = self.message_id if self._trailing is None else self._trailing["id"]
            await self._emit(TextMessageEndEvent(message_id=message_id))
            self._text_open = False

    async def _add_call_piece(self, chunk: ToolCallDelta) -> None:
        await self._end_text()
        call = self._open_call
        if call is None or call.call_id != chunk.call_id:
            if call is not None:
                # Ended, though it stays the open call when the piece below is ignored.
                await self._emit(ToolCallEndEvent(tool_call_id=call.call_id))
            if any(c.call_id == chunk.call_id for c in self.calls):
                return  # a call the model already closed: ignore late pieces
            call = self._open_call = StreamedCall(chunk.call_id, chunk.name)
            self.calls.append(call)
            await self._emit(
                ToolCallStartEvent(
                    tool_call_id=chunk.call_id,
                    tool_call_name=chunk.name,
                    parent_message_id=self.message_id,
                )
            )
        if chunk.arguments:
            call.arguments.append(chunk.arguments)
            await self._emit(ToolCallArgsEvent(tool_call_id=chunk.call_id, delta=chunk.arguments))
