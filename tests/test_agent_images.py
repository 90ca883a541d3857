"""Image and document parts of a user message (issue 13, item 5): an OpenAI-compatible model gets
them as Chat Completions content parts (image URL or data URL, documents as file data), history
keeps the parts as they were sent, parts over `AGENT_MAX_ATTACHMENT_BYTES` (or malformed) are
422 / BAD_USER_INPUT before anything is stored, and the offline model says it cannot see them."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from ag_ui.core import UserMessage

from agent_runtime.chat_model import ModelRequest
from agent_runtime.openai_model import to_openai_messages
from models import AgentThread
from tests.support.agent import http_base, new_thread, run_agent, run_input
from tests.support.calendar_api import problem
from tests.support.client import Account, Api, gql_code
from tests.support.fake_openai import FakeOpenAI, fake_model_settings
from tests.support.live_server import live_server

Event = dict[str, Any]
CAP = 4096
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(200)).decode()
PDF = base64.b64encode(b"%PDF-1.4\n" + bytes(300)).decode()
TOO_BIG = base64.b64encode(bytes(CAP + 1)).decode()
START = """mutation($input: JSON!) {
  startAgentRun(input: $input) { runId }
}"""


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"agent_max_attachment_bytes": CAP, **fake_model_settings(request)}


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield http_base(ws_url)


def with_parts(thread_id: str, *parts: dict[str, Any]) -> dict[str, Any]:
    message = {"id": "m-1", "role": "user", "content": list(parts)}
    return run_input(thread_id, "run-1", messages=[message])


def image(source: dict[str, Any]) -> dict[str, Any]:
    return {"type": "image", "source": source}


def text_of(events: list[Event]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")


async def test_parts_reach_the_model_as_content_parts_and_history_keeps_them(
    api: Api, alice: Account, base: str, fake_openai_server: FakeOpenAI
) -> None:
    fake = fake_openai_server
    fake.script_text("A cat, and an invoice.")
    thread_id = new_thread()
    parts = [
        {"type": "text", "text": "What is in these?"},
        image({"type": "data", "value": PNG, "mimeType": "image/png"}),
        image({"type": "url", "value": "https://example.com/cat.jpg"}),
        {
            "type": "document",
            "source": {"type": "data", "value": PDF, "mimeType": "application/pdf"},
            "metadata": {"filename": "invoice.pdf"},
        },
        {"type": "audio", "source": {"type": "url", "value": "https://example.com/a.mp3"}},
    ]
    events = await run_agent(base, alice, with_parts(thread_id, *parts))
    assert events[-1]["type"] == "RUN_FINISHED", events[-1]
    assert text_of(events) == "A cat, and an invoice."

    user = [m for m in fake.requests[0]["messages"] if m["role"] == "user"]
    assert user == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                {
                    "type": "file",
                    "file": {
                        "file_data": f"data:application/pdf;base64,{PDF}",
                        "filename": "invoice.pdf",
                    },
                },
                {"type": "text", "text": "(The user attached an audio here.)"},
            ],
        }
    ]

    r = await api.rest("GET", f"/agent/runs/{thread_id}/history", alice.access_token)
    assert r.status_code == 200, r.text
    stored = r.json()["snapshot"]["messages"][0]
    assert stored["role"] == "user" and stored["content"] == parts


@pytest.mark.parametrize(
    ("part", "why"),
    [
        (image({"type": "data", "value": TOO_BIG, "mimeType": "image/png"}), "larger than"),
        (image({"type": "url", "value": f"data:image/png;base64,{TOO_BIG}"}), "larger than"),
        (image({"type": "data", "value": "not base64!", "mimeType": "image/png"}), "base64"),
        (image({"type": "data", "value": PNG, "mimeType": "text/plain"}), "image/*"),
        (image({"type": "url", "value": "ftp://example.com/cat.jpg"}), "http(s) URL"),
    ],
)
async def test_oversized_or_malformed_parts_are_422_and_leave_nothing(
    api: Api, alice: Account, part: dict[str, Any], why: str
) -> None:
    thread_id = new_thread()
    body = with_parts(thread_id, {"type": "text", "text": "look"}, part)
    r = await api.rest("POST", "/agent/runs", alice.access_token, json=body)
    detail = problem(r, 422)
    assert why in detail["detail"]
    assert detail["errors"][0]["loc"] == ["body", "messages", 0, "content", 1, "source"]

    gql = await api.gql(START, {"input": body}, alice.access_token)
    assert gql_code(gql) == "BAD_USER_INPUT", gql
    assert not await AgentThread.filter(id=thread_id).exists()


async def test_the_offline_model_says_it_cannot_see_images(alice: Account, base: str) -> None:
    thread_id = new_thread()
    png = image({"type": "data", "value": PNG, "mimeType": "image/png"})
    events = await run_agent(
        base, alice, with_parts(thread_id, {"type": "text", "text": "这张图里是什么？"}, png)
    )
    assert events[-1]["type"] == "RUN_FINISHED"
    assert "看不到图片" in text_of(events)
    assert not [e for e in events if e["type"] == "TOOL_CALL_START"]


def test_a_text_only_endpoint_gets_a_note_instead_of_the_parts() -> None:
    """`AGENT_MODEL_IMAGES=false`: every non-text part becomes a note, the text stays."""
    message = UserMessage.model_validate(
        {
            "id": "m-1",
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                image({"type": "data", "value": PNG, "mimeType": "image/png"}),
            ],
        }
    )
    request = ModelRequest(messages=[message], tools=[], now=datetime.now(UTC))
    [_, user] = to_openai_messages(request, images=False)
    assert user == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "text", "text": "(The user attached an image here.)"},
        ],
    }
