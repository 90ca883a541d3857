"""A scripted OpenAI-compatible Chat Completions server on a free loopback port.

`FakeOpenAI` runs a small Starlette app under uvicorn in a background thread (so it works from
async and sync tests alike, whatever event loop they use). `POST /v1/chat/completions` with
`"stream": true` answers with Server-Sent Events in OpenAI's chunk format, one scripted reply per
request, in the order the test scripted them; every request body (and its headers) is recorded.

    async with FakeOpenAI() as fake:
        fake.script_text("Hel", "lo")                   # one text reply, two content chunks
        fake.script_tool_call("list_friends", "{}")     # one tool call, arguments in pieces
        fake.script_error(500)                          # HTTP 500 with an OpenAI error body
        fake.script_disconnect()                        # a few chunks, then the connection drops
        model = OpenAIChatModel("gpt-test", base_url=fake.base_url, api_key="sk-test")
        ...
        fake.requests[0]["messages"], fake.requests[0]["tools"]

A request that finds no scripted reply left is answered HTTP 500 (marked not to be retried), so a
test that calls the model more often than it scripted fails loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

START_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ScriptedToolCall:
    """One tool call of a scripted reply. `call_id=None` sends no id at all (as some local
    servers do); the arguments text is sent over `pieces` chunks."""

    name: str
    arguments: str = "{}"
    call_id: str | None = "auto"
    pieces: int = 3


@dataclass(frozen=True)
class _Stream:
    text: tuple[str, ...] = ()
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    drop: bool = False  # stop mid-stream by breaking the connection
    reasoning: tuple[str, ...] = ()  # sent before the text, under `reasoning_key`
    reasoning_key: str = "reasoning_content"
    usage: dict[str, Any] | None = None  # sent as a last chunk without choices


@dataclass(frozen=True)
class _Error:
    status: int
    message: str
    retryable: bool


@dataclass(frozen=True)
class _Raw:
    body: str  # sent as the SSE response body verbatim


_Reply = _Stream | _Error | _Raw


class _Disconnect(Exception):
    """Raised inside a streaming body: uvicorn then closes the connection mid-response."""


def _not_a_scripted_disconnect(record: logging.LogRecord) -> bool:
    """Keeps uvicorn from logging a traceback for every scripted disconnect."""
    return not (record.exc_info and isinstance(record.exc_info[1], _Disconnect))


class FakeOpenAI:
    """The fake endpoint. Use as `async with` or `with`; `base_url` ends in `/v1`."""

    def __init__(self, model: str = "fake-model") -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._replies: deque[_Reply] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting -----------------------------------------------------------------------------

    def script_text(self, *pieces: str) -> None:
        """A text reply; each piece is sent as one content chunk."""
        self._push(_Stream(text=pieces))

    def script_tool_call(
        self,
        name: str,
        arguments: str = "{}",
        *,
        call_id: str | None = "auto",
        pieces: int = 3,
        text: Sequence[str] = (),
    ) -> None:
        """A reply with one tool call (after the optional text pieces)."""
        self.script_tool_calls(ScriptedToolCall(name, arguments, call_id, pieces), text=text)

    def script_tool_calls(self, *calls: ScriptedToolCall, text: Sequence[str] = ()) -> None:
        """A reply with several (parallel) tool calls, each at its own `index`."""
        self._push(_Stream(text=tuple(text), tool_calls=calls))

    def script_reply(
        self,
        *,
        text: Sequence[str] = (),
        reasoning: Sequence[str] = (),
        reasoning_key: str = "reasoning_content",
        usage: dict[str, Any] | None = None,
        tool_calls: Sequence[ScriptedToolCall] = (),
    ) -> None:
        """A reply with reasoning deltas (DeepSeek/Qwen `reasoning_content`, vLLM `reasoning`)
        before its text and tool calls, and a usage chunk (`stream_options.include_usage`)."""
        self._push(
            _Stream(
                text=tuple(text),
                tool_calls=tuple(tool_calls),
                reasoning=tuple(reasoning),
                reasoning_key=reasoning_key,
                usage=usage,
            )
        )

    def script_error(
        self, status: int = 500, message: str = "scripted failure", *, retryable: bool = True
    ) -> None:
        """An HTTP error with OpenAI's error body. Retryable errors carry `retry-after-ms: 1` so
        the SDK's retry comes at once; `retryable=False` sends `x-should-retry: false`."""
        self._push(_Error(status, message, retryable))

    def script_disconnect(self, *pieces: str) -> None:
        """Send the text pieces (default one), then break the connection before `[DONE]`."""
        self._push(_Stream(text=pieces or ("partial",), drop=True))

    def script_raw(self, body: str) -> None:
        """Answer 200 `text/event-stream` with this body verbatim (for malformed streams)."""
        self._push(_Raw(body))

    def _push(self, reply: _Reply) -> None:
        with self._lock:
            self._replies.append(reply)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._replies)

    # --- the app -------------------------------------------------------------------------------

    async def _chat_completions(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            reply = self._replies.popleft() if self._replies else None
        if reply is None:
            return _error_response(_Error(500, "no scripted reply left", retryable=False))
        if isinstance(reply, _Error):
            return _error_response(reply)
        if not body.get("stream"):
            return _error_response(_Error(400, "the fake only streams", retryable=False))
        if isinstance(reply, _Raw):
            return Response(reply.body, media_type="text/event-stream")
        model = str(body.get("model") or self.model)
        return StreamingResponse(_sse(reply, model), media_type="text/event-stream")

    def _app(self) -> Starlette:
        return Starlette(
            routes=[Route("/v1/chat/completions", self._chat_completions, methods=["POST"])]
        )

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), lifespan="off", log_level="warning", timeout_graceful_shutdown=1
        )
        error_log = logging.getLogger("uvicorn.error")
        if _not_a_scripted_disconnect not in error_log.filters:
            error_log.addFilter(_not_a_scripted_disconnect)
        server = uvicorn.Server(config)
        self._server = server
        # Off the main thread uvicorn leaves the process's signal handlers alone.
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAI:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


@contextlib.asynccontextmanager
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """`async with fake_openai() as fake:` (same as `async with FakeOpenAI() as fake:`)."""
    async with FakeOpenAI() as fake:
        yield fake


def fake_model_settings(request: Any) -> dict[str, Any]:
    """For a module's `settings_overrides`: the agent on `openai:fake-model` against the
    `fake_openai_server` fixture when the test uses it; otherwise nothing (the offline model)."""
    if "fake_openai_server" not in request.fixturenames:
        return {}
    fake: FakeOpenAI = request.getfixturevalue("fake_openai_server")
    return {"agent_model": "openai:fake-model", "openai_base_url": fake.base_url}


# --- wire format ---------------------------------------------------------------------------------


def _error_response(error: _Error) -> JSONResponse:
    headers = {"retry-after-ms": "1"} if error.retryable else {"x-should-retry": "false"}
    kind = "server_error" if error.status >= 500 else "invalid_request_error"
    body = {"error": {"message": error.message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=error.status, headers=headers)


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    size = max(1, math.ceil(len(text) / max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _chunks(reply: _Stream) -> Iterator[tuple[dict[str, Any], str | None]]:
    """(delta, finish_reason) pairs of one scripted reply, OpenAI-style."""
    first = True

    def role() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"role": "assistant"}
        return {}

    for piece in reply.reasoning:
        yield {**role(), "content": None, reply.reasoning_key: piece}, None
    if reply.text:
        yield {**role(), "content": "", "refusal": None}, None
        for piece in reply.text:
            yield {"content": piece}, None
    if reply.drop:
        return
    for index, call in enumerate(reply.tool_calls):
        head: dict[str, Any] = {"index": index, "type": "function"}
        if call.call_id is not None:
            head["id"] = "call_" + uuid.uuid4().hex[:24] if call.call_id == "auto" else call.call_id
        head["function"] = {"name": call.name, "arguments": ""}
        yield {**role(), "tool_calls": [head]}, None
        for piece in _split(call.arguments, call.pieces):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, None
    yield {}, "tool_calls" if reply.tool_calls else "stop"


async def _sse(reply: _Stream, model: str) -> AsyncIterator[str]:
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    for delta, finish_reason in _chunks(reply):
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        yield f"data: {json.dumps(chunk)}\n\n"
        await asyncio.sleep(0)
    if reply.drop:
        await asyncio.sleep(0.05)  # let the chunks reach the client before the break
        raise _Disconnect("scripted disconnect")
    if reply.usage is not None:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": reply.usage,
        }
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"
