"""The offline `ChatModel`: decides a turn (`turn`) and streams it the way a real model would.

Apart from tool call ids the output depends only on the request, and the model never raises:
whatever it cannot follow gets a polite text answer, because a broken demo model would end the
run with an error the user cannot do anything about.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence

from agent_runtime.chat_model import ModelChunk, ModelRequest, TextDelta, ToolCallDelta
from agent_runtime.offline.conversation import last_user_text
from agent_runtime.offline.language import Lang, detect_language
from agent_runtime.offline.replies import Reply, TextReply, ToolReply, not_followed
from agent_runtime.offline.turn import Turn

_PIECES = re.compile(r"\S+\s*|\s+")


def _groups(pieces: Sequence[str], count: int) -> list[str]:
    """`pieces` joined into at most `count` consecutive chunks of similar size."""
    if not pieces:
        return []
    size = -(-len(pieces) // max(1, min(count, len(pieces))))
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


def split_text(text: str, count: int) -> list[str]:
    """Text in word-sized chunks; Chinese, which has no spaces, in character runs."""
    words = _PIECES.findall(text)
    return _groups(words if len(words) >= count else list(text), count)


def _safe_language(request: ModelRequest) -> Lang:
    try:
        return detect_language(last_user_text(list(request.messages)))
    except Exception:  # the English fallback answer is good enough
        return "en"


class OfflineModel:
    """The `ChatModel` that needs no network: rule-based, deterministic apart from call ids.

    `text_chunks` and `argument_chunks` set how many deltas a text answer and a tool call's
    arguments are streamed in, so the executor's streaming is exercised as with a real model."""

    name = "offline"

    def __init__(self, *, text_chunks: int = 4, argument_chunks: int = 3) -> None:
        self._text_chunks = max(1, text_chunks)
        self._argument_chunks = max(1, argument_chunks)

    def decide(self, request: ModelRequest) -> Reply:
        """The turn's answer, computed before anything is streamed."""
        try:
            return Turn(request).reply()
        except Exception:  # any odd input gets an answer, never a failed run
            lang = _safe_language(request)
            return TextReply(not_followed(lang))

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        reply = self.decide(request)
        if isinstance(reply, ToolReply):
            call_id = "call_" + uuid.uuid4().hex[:24]
            arguments = json.dumps(reply.arguments, ensure_ascii=False)
            for piece in _groups(list(arguments), self._argument_chunks):
                yield ToolCallDelta(call_id=call_id, name=reply.name, arguments=piece)
                await asyncio.sleep(0)
            return
        for piece in split_text(reply.text, self._text_chunks):
            yield TextDelta(text=piece)
            await asyncio.sleep(0)
