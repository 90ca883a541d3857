"""Token usage and reasoning of an OpenAI-compatible model (issue 13, items 3 and 4), against the
scripted endpoint on loopback: the request asks for usage (`stream_options.include_usage`),
`RUN_FINISHED.usage` carries AG-UI `TokenUsage` summed over the run's model turns and the run's
status record keeps it; `reasoning_content` / `reasoning` deltas stream as `REASONING_*` events
before the answer and are neither stored in history nor sent back to the model. The offline
model reports no usage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from ag_ui.core import UserMessage

from agent_runtime.chat_model import ModelRequest, ReasoningDelta, TextDelta, UsageReport
from agent_runtime.openai_model import OpenAIChatModel
from tests.support.agent import http_base, new_thread, run_agent, run_input, user_message
from tests.support.agui_node import verify_runs
from tests.support.client import Account, Api
from tests.support.fake_openai import FakeOpenAI, ScriptedToolCall, fake_model_settings
from tests.support.live_server import live_server

Event = dict[str, Any]
REASONING_TYPES = (
    "REASONING_START",
    "REASONING_MESSAGE_START",
    "REASONING_MESSAGE_CONTENT",
    "REASONING_MESSAGE_END",
    "REASONING_END",
)
RUN_QUERY = """query($threadId: ID!, $runId: String!) {
  agentRun(threadId: $threadId, runId: $runId) { status usage }
}"""


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return fake_model_settings(request)


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield http_base(ws_url)


def types(events: list[Event]) -> list[str]:
    return [e["type"] for e in events]


async def assert_verified(*runs: list[Event]) -> None:
    report = await asyncio.to_thread(verify_runs, list(runs))
    assert report["ok"], [r["errors"] for r in report["runs"]]


async def run_record(api: Api, account: Account, thread_id: str, run_id: str) -> dict[str, Any]:
    """The run's status record through REST and GraphQL, once the run's row says it ended (the
    row is written just after the terminal event)."""
    async with asyncio.timeout(10):
        while True:
            path = f"/agent/runs/{thread_id}/runs/{run_id}"
            r = await api.rest("GET", path, account.access_token)
            assert r.status_code == 200, r.text
            rest: dict[str, Any] = r.json()
            if rest["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.02)
    body = await api.gql(RUN_QUERY, {"threadId": thread_id, "runId": run_id}, account.access_token)
    assert "errors" not in body, body
    assert body["data"]["agentRun"]["usage"] == rest["usage"]
    return rest


async def test_reasoning_streams_before_the_answer_and_usage_ends_the_run(
    api: Api, alice: Account, base: str, fake_openai_server: FakeOpenAI
) -> None:
    fake = fake_openai_server
    fake.script_reply(
        reasoning=["The user greets me", "; greet back."],
        text=["Hello, ", "Alice!"],
        usage={
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
            "completion_tokens_details": {"reasoning_tokens": 12},
            "prompt_tokens_details": {"cached_tokens": 100},
        },
    )
    thread_id = new_thread()
    body = run_input(thread_id, "run-1", "hi")
    events = await run_agent(base, alice, body)

    kinds = types(events)
    assert [k for k in kinds if k.startswith("REASONING")] == [
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
    ]
    assert kinds.index("REASONING_END") < kinds.index("TEXT_MESSAGE_START")
    thought = "".join(e["delta"] for e in events if e["type"] == "REASONING_MESSAGE_CONTENT")
    assert thought == "The user greets me; greet back."
    start = next(e for e in events if e["type"] == "REASONING_MESSAGE_START")
    assert start["role"] == "reasoning"
    assert {e["messageId"] for e in events if e["type"] in REASONING_TYPES} == {start["messageId"]}

    usage = [
        {
            "provider": "openai",
            "model": "fake-model",
            "inputTokens": 120,
            "outputTokens": 30,
            "totalTokens": 150,
            "reasoningTokens": 12,
            "cachedInputTokens": 100,
        }
    ]
    assert events[-1]["type"] == "RUN_FINISHED" and events[-1]["usage"] == usage
    assert fake.requests[0]["stream_options"] == {"include_usage": True}
    record = await run_record(api, alice, thread_id, "run-1")
    assert record["status"] == "finished" and record["usage"] == usage

    # Reasoning is not history: neither the thread's stored messages nor what the model is
    # sent next hold it, even when the client echoes it back (as HttpAgent does).
    r = await api.rest("GET", f"/agent/runs/{thread_id}/history", alice.access_token)
    assert r.status_code == 200, r.text
    stored = r.json()["snapshot"]["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert "greet back" not in json.dumps(stored)
    echoed = {"id": start["messageId"], "role": "reasoning", "content": thought}
    fake.script_text("Still here.")
    again = run_input(thread_id, "run-2", messages=[*body["messages"], echoed, user_message("?")])
    second = await run_agent(base, alice, again)
    assert second[-1]["type"] == "RUN_FINISHED"
    assert "greet back" not in json.dumps(fake.requests[1]["messages"])
    r = await api.rest("GET", f"/agent/runs/{thread_id}/history", alice.access_token)
    assert "reasoning" not in [m["role"] for m in r.json()["snapshot"]["messages"]]

    await assert_verified(events, second)


async def test_usage_is_summed_over_turns_and_vllm_reasoning_is_read(
    api: Api, alice: Account, base: str, fake_openai_server: FakeOpenAI
) -> None:
    fake = fake_openai_server
    fake.script_reply(
        tool_calls=[ScriptedToolCall("list_friends", "{}")],
        usage={"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    )
    fake.script_reply(
        reasoning=["No friends yet."],
        reasoning_key="reasoning",  # vLLM's and OpenRouter's name
        text=["You have no friends yet."],
        usage={"prompt_tokens": 140, "completion_tokens": 8, "total_tokens": 148},
    )
    thread_id = new_thread()
    events = await run_agent(base, alice, run_input(thread_id, "run-1", "who are my friends?"))

    kinds = types(events)
    assert "TOOL_CALL_RESULT" in kinds
    assert kinds.index("REASONING_START") > kinds.index("TOOL_CALL_RESULT")
    assert kinds.index("REASONING_END") < kinds.index("TEXT_MESSAGE_START")
    summed = [
        {
            "provider": "openai",
            "model": "fake-model",
            "inputTokens": 240,
            "outputTokens": 18,
            "totalTokens": 258,
        }
    ]
    assert events[-1]["type"] == "RUN_FINISHED" and events[-1]["usage"] == summed
    assert (await run_record(api, alice, thread_id, "run-1"))["usage"] == summed
    await assert_verified(events)


async def test_a_failed_run_reports_the_usage_of_its_earlier_turns(
    api: Api, alice: Account, base: str, fake_openai_server: FakeOpenAI
) -> None:
    fake = fake_openai_server
    fake.script_reply(
        tool_calls=[ScriptedToolCall("list_friends", "{}")],
        usage={"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
    )
    fake.script_error(500, "down", retryable=False)
    thread_id = new_thread()
    events = await run_agent(base, alice, run_input(thread_id, "run-1", "friends?"))
    assert events[-1]["type"] == "RUN_ERROR" and events[-1]["code"] == "MODEL_ERROR"
    assert events[-1]["usage"][0]["totalTokens"] == 55
    record = await run_record(api, alice, thread_id, "run-1")
    assert record["status"] == "error" and record["usage"][0]["totalTokens"] == 55


async def test_the_offline_model_reports_no_usage(api: Api, alice: Account, base: str) -> None:
    thread_id = new_thread()
    events = await run_agent(base, alice, run_input(thread_id, "run-1", "hello"))
    assert events[-1]["type"] == "RUN_FINISHED"
    assert "usage" not in events[-1]
    assert not any(k.startswith("REASONING") for k in types(events))
    assert (await run_record(api, alice, thread_id, "run-1"))["usage"] is None


async def test_the_model_yields_one_usage_report_the_last_running_total() -> None:
    """Servers that send a running total on every chunk: the turn reports the last one, once,
    after the answer."""

    def chunk(delta: dict[str, Any], usage: dict[str, int] | None) -> str:
        body = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            "usage": usage,
        }
        return f"data: {json.dumps(body)}\n\n"

    with FakeOpenAI() as fake:
        fake.script_raw(
            chunk({"role": "assistant", "reasoning_content": "Hm."}, None)
            + chunk(
                {"content": "Hi"}, {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
            )
            + chunk(
                {"content": "!"}, {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
            )
            + "data: [DONE]\n\n"
        )
        model = OpenAIChatModel("m", base_url=fake.base_url, api_key=None, timeout=5)
        request = ModelRequest(
            messages=[UserMessage(id="u", content="hi")], tools=[], now=datetime.now(UTC)
        )
        chunks = [c async for c in model.stream(request)]
        await model.aclose()
    assert chunks == [
        ReasoningDelta("Hm."),
        TextDelta("Hi"),
        TextDelta("!"),
        UsageReport(input_tokens=5, output_tokens=2, total_tokens=7),
    ]
