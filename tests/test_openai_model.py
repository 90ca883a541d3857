"""`OpenAIChatModel` against a scripted OpenAI-compatible server: streamed text and tool calls, the
request it sends (system prompt, converted messages, tools), and user-safe errors."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from ag_ui.core import (
    ActivityMessage,
    AssistantMessage,
    DeveloperMessage,
    FunctionCall,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)

from agent_runtime.chat_model import ModelChunk, ModelError, ModelRequest, TextDelta, ToolCallDelta
from agent_runtime.openai_model import OpenAIChatModel
from agent_runtime.tool_specs import LIST_FRIENDS, SERVER_TOOLS
from tests.support.fake_openai import FakeOpenAI, ScriptedToolCall

API_KEY = "sk-test-SECRET-4f9a1c"
NOW = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def model(fake: FakeOpenAI) -> AsyncIterator[OpenAIChatModel]:
    chat = OpenAIChatModel("gpt-test", base_url=fake.base_url, api_key=API_KEY, timeout=10)
    yield chat
    await chat.aclose()


def _request(*messages: object, tools: tuple[Tool, ...] = SERVER_TOOLS) -> ModelRequest:
    return ModelRequest(
        messages=list(messages) or [UserMessage(id="u1", content="Hi")],  # type: ignore[arg-type]
        tools=list(tools),
        now=NOW,
        timezone="Europe/Berlin",
        context=["The user is looking at the week view."],
    )


async def _collect(model: OpenAIChatModel, request: ModelRequest) -> list[ModelChunk]:
    return [chunk async for chunk in model.stream(request)]


async def test_text_streams_as_text_deltas_in_order(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.script_text("Hel", "lo, ", "world", "!")

    chunks = await _collect(model, _request())

    assert chunks == [TextDelta("Hel"), TextDelta("lo, "), TextDelta("world"), TextDelta("!")]
    assert model.name == "openai:gpt-test"
    body = fake.requests[0]
    assert body["model"] == "gpt-test"
    assert body["stream"] is True
    assert fake.headers[0]["authorization"] == f"Bearer {API_KEY}"


async def test_tool_call_split_over_chunks_repeats_id_and_name(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    arguments = '{"startAt": "2026-03-07T00:00:00+01:00", "endAt": "2026-03-08T00:00:00+01:00"}'
    fake.script_tool_call(
        "list_schedule_items", arguments, call_id="call_abc123", pieces=5, text=["Let me look."]
    )

    chunks = await _collect(model, _request())

    assert chunks[0] == TextDelta("Let me look.")
    calls = [chunk for chunk in chunks[1:] if isinstance(chunk, ToolCallDelta)]
    assert len(calls) == len(chunks) - 1
    assert len(calls) >= 5
    assert {(c.call_id, c.name) for c in calls} == {("call_abc123", "list_schedule_items")}
    assert "".join(c.arguments for c in calls) == arguments
    assert json.loads("".join(c.arguments for c in calls))["endAt"].endswith("+01:00")


async def test_parallel_calls_and_missing_ids(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script_tool_calls(
        ScriptedToolCall(LIST_FRIENDS, "{}", call_id=None, pieces=1),
        ScriptedToolCall("list_inbox_messages", '{"status": "pending"}', call_id=None, pieces=4),
    )

    chunks = await _collect(model, _request())

    assert all(isinstance(chunk, ToolCallDelta) for chunk in chunks)
    by_id: dict[str, list[ToolCallDelta]] = {}
    for chunk in chunks:
        assert isinstance(chunk, ToolCallDelta)
        by_id.setdefault(chunk.call_id, []).append(chunk)
    assert len(by_id) == 2
    for call_id, deltas in by_id.items():
        assert call_id.startswith("call_") and len(call_id) == len("call_") + 24
        assert len({d.name for d in deltas}) == 1
    args = {d[0].name: "".join(x.arguments for x in d) for d in by_id.values()}
    assert args == {LIST_FRIENDS: "{}", "list_inbox_messages": '{"status": "pending"}'}


async def test_request_carries_system_prompt_messages_and_tools(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.script_text("You have two friends.")
    frontend_tool = Tool(name="navigate_route", description="Open a page of the app.")
    request = _request(
        DeveloperMessage(id="d1", content="Be terse."),
        UserMessage(
            id="u1",
            content=[TextPart(text="Who are"), TextPart(text="my friends?")],
        ),
        AssistantMessage(
            id="a1",
            content=None,
            tool_calls=[
                ToolCall(id="call_1", function=FunctionCall(name=LIST_FRIENDS, arguments="{}"))
            ],
        ),
        ActivityMessage(id="x1", activity_type="progress", content={"step": 1}),
        ToolMessage(id="t1", tool_call_id="call_1", content='[{"name": "Ada"}, {"name": "Bo"}]'),
        ToolMessage(id="t2", tool_call_id="call_unknown", content="orphan"),
        tools=(*SERVER_TOOLS, frontend_tool),
    )

    assert await _collect(model, request) == [TextDelta("You have two friends.")]

    body = fake.requests[0]
    system, *rest = body["messages"]
    assert system["role"] == "system"
    assert "calendar" in system["content"]
    assert "2026-03-06T10:30+01:00" in system["content"]  # `now` in the user's time zone
    assert "Europe/Berlin" in system["content"]
    assert "The user is looking at the week view." in system["content"]
    assert rest == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Who are\nmy friends?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": LIST_FRIENDS, "arguments": "{}"},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": '[{"name": "Ada"}, {"name": "Bo"}]',
        },
    ]

    tools = {tool["function"]["name"]: tool for tool in body["tools"]}
    assert set(tools) == {tool.name for tool in SERVER_TOOLS} | {"navigate_route"}
    assert all(tool["type"] == "function" for tool in tools.values())
    friends = next(tool for tool in SERVER_TOOLS if tool.name == LIST_FRIENDS)
    assert tools[LIST_FRIENDS]["function"] == {
        "name": LIST_FRIENDS,
        "description": friends.description,
        "parameters": friends.parameters,
    }
    assert tools["navigate_route"]["function"]["parameters"] == {
        "type": "object",
        "properties": {},
    }


async def test_no_tools_means_no_tools_field(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script_text("ok")
    await _collect(model, _request(tools=()))
    assert "tools" not in fake.requests[0]


async def test_http_500_is_a_model_error_without_the_key(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.script_error(500, f"boom, key {API_KEY}")
    fake.script_error(500, f"boom, key {API_KEY}")

    with pytest.raises(ModelError) as caught:
        await _collect(model, _request())

    assert "500" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert fake.base_url not in str(caught.value)
    assert len(fake.requests) == 2  # one retry, then give up


async def test_http_401_names_the_key_but_not_its_value(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.script_error(401, f"Incorrect API key provided: {API_KEY}", retryable=False)

    with pytest.raises(ModelError) as caught:
        await _collect(model, _request())

    assert "401" in str(caught.value)
    assert API_KEY not in str(caught.value)


async def test_dropped_connection_is_a_model_error(
    fake: FakeOpenAI, model: OpenAIChatModel
) -> None:
    fake.script_disconnect("Par", "tial")

    received: list[ModelChunk] = []
    with pytest.raises(ModelError) as caught:
        async for chunk in model.stream(_request()):
            received.append(chunk)

    assert received == [TextDelta("Par"), TextDelta("tial")]
    assert API_KEY not in str(caught.value)


async def test_malformed_stream_is_a_model_error(fake: FakeOpenAI, model: OpenAIChatModel) -> None:
    fake.script_raw("data: {this is not json\n\n")

    with pytest.raises(ModelError, match="could not be read"):
        await _collect(model, _request())


async def test_unreachable_endpoint_is_a_model_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    base_url = f"http://user:{API_KEY}@127.0.0.1:{port}/v1"
    chat = OpenAIChatModel("gpt-test", base_url=base_url, api_key=API_KEY, timeout=5)
    try:
        with pytest.raises(ModelError) as caught:
            await _collect(chat, _request())
    finally:
        await chat.aclose()

    message = str(caught.value)
    assert "could not be reached" in message
    assert API_KEY not in message
    assert str(port) not in message
