"""Helpers for agent runtime tests: run inputs, an SSE reader that keeps the raw bytes, and a
scripted chat model."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent_runtime.chat_model import ModelChunk, ModelRequest, TextDelta, ToolCallDelta
from models import AgentRun
from models.agent import UNFINISHED
from tests.support.client import API, Account, Api

STREAM_ID = re.compile(r"^\d+-\d+$")
TERMINAL = ("RUN_FINISHED", "RUN_ERROR")


def new_thread() -> str:
    return str(uuid.uuid4())


def user_message(text: str, message_id: str | None = None) -> dict[str, Any]:
    return {"id": message_id or f"msg-{uuid.uuid4().hex[:12]}", "role": "user", "content": text}


def run_input(
    thread_id: str,
    run_id: str | None = None,
    text: str | None = None,
    *,
    messages: Sequence[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A RunAgentInput body; `text` adds one user message."""
    body: dict[str, Any] = {
        "threadId": thread_id,
        "runId": run_id or f"run-{uuid.uuid4().hex[:12]}",
        "messages": list(messages or ([user_message(text)] if text is not None else [])),
    }
    body.update(extra)
    return body


async def start_run(api: Api, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.rest("POST", "/agent/runs", account.access_token, json=body)
    assert r.status_code == 202, r.text
    ticket: dict[str, Any] = r.json()
    return ticket


def http_base(ws_url: str) -> str:
    """`live_server`'s ws://…/graphql URL as the server's http:// origin."""
    return ws_url.replace("ws://", "http://").removesuffix("/graphql")


@dataclass
class SseEvent:
    id: str
    event: str
    data: dict[str, Any]


@dataclass
class SseRead:
    events: list[SseEvent] = field(default_factory=list)
    raw: bytes = b""
    comments: int = 0  # keep-alive comment blocks seen
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def types(self) -> list[str]:
        return [e.event for e in self.events]


def _parse_block(block: str) -> SseEvent | None:
    fields: dict[str, list[str]] = {}
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value.removeprefix(" "))
    if "data" not in fields:
        return None
    return SseEvent(
        id=fields.get("id", [""])[-1],
        event=fields.get("event", ["message"])[-1],
        data=json.loads("\n".join(fields["data"])),
    )


def runs_done(count: int) -> Callable[[list[SseEvent]], bool]:
    """Stop once `count` terminal events (RUN_FINISHED / RUN_ERROR) were read."""
    return lambda events: sum(e.event in TERMINAL for e in events) >= count


async def read_sse(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    until: Callable[[list[SseEvent]], bool] | None = None,
    timeout_s: float = 15.0,
    method: str = "GET",
    json_body: Any = None,
    params: dict[str, str] | None = None,
) -> SseRead:
    """Read an SSE response until `until(events)` holds (or the server ends the stream); by
    default until the first RUN_FINISHED or RUN_ERROR."""
    until = until or runs_done(1)
    result = SseRead()
    buffer = ""
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                method, url, headers=headers or {}, json=json_body, params=params
            ) as response:
                result.status = response.status_code
                result.headers = dict(response.headers)
                if response.status_code != 200:
                    result.raw = await response.aread()
                    return result
                async for chunk in response.aiter_bytes():
                    result.raw += chunk
                    buffer += chunk.decode()
                    while "\n\n" in buffer:
                        block, buffer = buffer.split("\n\n", 1)
                        if block.startswith(":"):
                            result.comments += 1
                            continue
                        event = _parse_block(block)
                        if event is not None:
                            result.events.append(event)
                    if until(result.events):
                        return result
    return result


async def run_agent(base: str, account: Account, body: dict[str, Any]) -> list[dict[str, Any]]:
    """`POST /agent`: the events of the one run it starts, as the client received them."""
    read = await read_sse(f"{base}{API}/agent", account.auth, method="POST", json_body=body)
    assert read.status == 200, read.raw
    return [e.data for e in read.events]


async def wait_idle(thread_id: str, seconds: float = 10.0) -> None:
    """Until no run of the thread is queued or running."""
    async with asyncio.timeout(seconds):
        while True:
            if not await AgentRun.filter(thread_id=thread_id, status__in=UNFINISHED).exists():
                return
            await asyncio.sleep(0.01)


def events_url(base: str, thread_id: str) -> str:
    return f"{base}{API}/agent/runs/{thread_id}/events"


class ScriptedModel:
    """A chat model that plays scripted turns in order; when the script runs out it answers
    "ok". Each turn is a list of chunks; `delay_s` pauses before every chunk. Every request is
    recorded in `requests`."""

    name = "scripted"

    def __init__(self, turns: Sequence[Sequence[ModelChunk]] = (), delay_s: float = 0.0) -> None:
        self.turns: list[list[ModelChunk]] = [list(t) for t in turns]
        self.delay_s = delay_s
        self.requests: list[ModelRequest] = []

    def add_turn(self, *chunks: ModelChunk) -> None:
        self.turns.append(list(chunks))

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.requests.append(request)
        turn = self.turns.pop(0) if self.turns else [TextDelta("ok")]
        for chunk in turn:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield chunk


def text_turn(*pieces: str) -> list[ModelChunk]:
    return [TextDelta(p) for p in pieces]


def tool_turn(name: str, arguments: dict[str, Any], call_id: str | None = None) -> list[ModelChunk]:
    call_id = call_id or f"call_{uuid.uuid4().hex[:24]}"
    text = json.dumps(arguments)
    middle = len(text) // 2
    return [
        ToolCallDelta(call_id, name, text[:middle]),
        ToolCallDelta(call_id, name, text[middle:]),
    ]
