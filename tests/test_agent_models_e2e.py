"""The two chat models behind the real run machinery (docs/contract.md §5, Models): the built-in
`offline` model (AGENT_MODEL's default) understood in English and Chinese, and `openai:<model>`
against a scripted OpenAI-compatible endpoint. Runs are read from the thread's SSE stream and pass
the official AG-UI verifier."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models import ScheduleItem
from tests.support.agent import events_url, http_base, read_sse, run_input, runs_done
from tests.support.agui_node import split_runs, verify_runs
from tests.support.client import Account, Api
from tests.support.fake_openai import FakeOpenAI, fake_model_settings
from tests.support.live_server import live_server

Event = dict[str, Any]
API_KEY = "sk-test-secret-4242"
NAVIGATE = {
    "name": "navigate_route",
    "description": "Open a page of the app.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
}


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """`openai:fake-model` against the fake endpoint for the tests that use it; otherwise the
    default model (`offline`)."""
    settings = fake_model_settings(request)
    return {**settings, "openai_api_key": API_KEY} if settings else {}


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield http_base(ws_url)


class Thread:
    def __init__(self, api: Api, account: Account, base: str) -> None:
        self.api = api
        self.account = account
        self.base = base
        self.id = str(uuid.uuid4())
        self.cursor: str | None = None
        self.events: list[Event] = []

    async def run(self, path: str = "/agent/runs", **body: Any) -> list[Event]:
        payload = run_input(self.id, **body)
        r = await self.api.rest("POST", path, self.account.access_token, json=payload)
        assert r.status_code == 202, r.text
        headers = dict(self.account.auth)
        if self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        read = await read_sse(events_url(self.base, self.id), headers, until=runs_done(1))
        assert read.status == 200, read.raw
        end = next(i for i, e in enumerate(read.events) if e.event in ("RUN_FINISHED", "RUN_ERROR"))
        self.cursor = read.events[end].id
        events = [e.data for e in read.events[: end + 1]]
        assert events[0]["type"] == "RUN_STARTED" and events[0]["runId"] == payload["runId"]
        self.events.extend(events)
        return events

    async def approve(self, run: list[Event]) -> list[Event]:
        interrupt = run[-1]["outcome"]["interrupts"][0]
        resume = [
            {"interruptId": interrupt["id"], "status": "resolved", "payload": {"approved": True}}
        ]
        return await self.run(f"/agent/runs/{self.id}/resume", messages=[], resume=resume)


def of_type(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["type"] == kind]


def tool_calls(run: list[Event]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, name, parsed arguments) of each call the run streamed."""
    calls = []
    for start in of_type(run, "TOOL_CALL_START"):
        call_id = start["toolCallId"]
        text = "".join(
            e["delta"] for e in of_type(run, "TOOL_CALL_ARGS") if e["toolCallId"] == call_id
        )
        calls.append((call_id, start["toolCallName"], json.loads(text or "{}")))
    return calls


def text_of(run: list[Event]) -> str:
    return "".join(e["delta"] for e in of_type(run, "TEXT_MESSAGE_CONTENT"))


def results(run: list[Event]) -> dict[str, dict[str, Any]]:
    return {e["toolCallId"]: json.loads(e["content"]) for e in of_type(run, "TOOL_CALL_RESULT")}


async def assert_verified(*streams: list[Event]) -> None:
    runs = [run for events in streams for run in split_runs(events)]
    report = await asyncio.to_thread(verify_runs, runs)
    errors = [(i, r["errors"]) for i, r in enumerate(report["runs"]) if not r["ok"]]
    assert report["ok"], json.dumps(errors, indent=1)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- offline -----------------------------------------------------------------------------------


async def test_offline_model_end_to_end(api: Api, alice: Account, base: str) -> None:
    # English, in UTC (no time zone given).
    english = Thread(api, alice, base)
    now = datetime.now(UTC)
    run = await english.run(text="schedule lunch with Ann tomorrow at 12")
    assert run[-1]["type"] == "RUN_FINISHED" and run[-1]["outcome"]["type"] == "interrupt"
    [(call_id, name, args)] = tool_calls(run)
    assert name == "create_schedule_item"
    assert run[-1]["outcome"]["interrupts"][0]["toolCallId"] == call_id
    assert "lunch" in args["title"].lower()
    tomorrow = (now + timedelta(days=1)).date()
    assert parse_time(args["startAt"]) == datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, 12, tzinfo=UTC
    )
    assert await ScheduleItem.filter(owner_id=alice.id).count() == 0
    run = await english.approve(run)
    assert run[-1]["type"] == "RUN_FINISHED"
    assert results(run)[call_id]["ok"] is True
    assert text_of(run)  # the model summarised the result
    [item] = await ScheduleItem.filter(owner_id=alice.id)
    assert item.source_type == "agent" and "lunch" in item.title.lower()
    assert item.start_at == parse_time(args["startAt"])

    # Chinese, in the user's time zone (forwardedProps).
    chinese = Thread(api, alice, base)
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime.now(shanghai)
    run = await chinese.run(
        text="明天中午12点和Ann吃午饭", forwardedProps={"timezone": "Asia/Shanghai"}
    )
    assert run[-1]["outcome"]["type"] == "interrupt"
    [(call_id, name, args)] = tool_calls(run)
    assert name == "create_schedule_item"
    assert "Ann" in args["title"]
    tomorrow = (now + timedelta(days=1)).date()
    assert parse_time(args["startAt"]) == datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, 12, tzinfo=shanghai
    )
    run = await chinese.approve(run)
    assert results(run)[call_id]["ok"] is True
    r = await api.rest("GET", "/schedule-items", alice.access_token)
    items = {i["title"]: i for i in r.json()}
    assert items[args["title"]]["source_type"] == "agent"
    assert parse_time(items[args["title"]]["start_at"]) == parse_time(args["startAt"])

    # Navigation, when the client offers the tool.
    other = Thread(api, alice, base)
    run = await other.run(text="open the calendar", tools=[NAVIGATE])
    [(call_id, name, args)] = tool_calls(run)
    assert (name, args) == ("navigate_route", {"path": "/calendar"})
    assert run[-1]["outcome"] == {"type": "success", "pendingToolCallIds": [call_id]}
    assert not of_type(run, "TOOL_CALL_RESULT")

    # Plain talk gets a text answer.
    run = await other.run(
        messages=[
            {
                "id": "tool-nav",
                "role": "tool",
                "toolCallId": call_id,
                "content": '{"ok": true}',
            },
            {"id": "hello-1", "role": "user", "content": "hello"},
        ]
    )
    assert run[-1]["type"] == "RUN_FINISHED"
    assert not tool_calls(run)
    assert run[-1].get("outcome", {"type": "success"}).get("pendingToolCallIds") in (None, [])
    assert len(text_of(run)) > 10

    await assert_verified(english.events, chinese.events, other.events)


# --- openai:<model> ----------------------------------------------------------------------------


async def test_openai_model_text_and_server_tool(
    api: Api, alice: Account, bob: Account, base: str, fake_openai_server: FakeOpenAI
) -> None:
    fake = fake_openai_server
    r = await api.rest(
        "POST", "/friends/requests", alice.access_token, json={"target_user_id": bob.id}
    )
    assert r.status_code == 201, r.text
    r = await api.rest("POST", f"/friends/requests/{r.json()['id']}/accept", bob.access_token)
    assert r.status_code == 200, r.text

    thread = Thread(api, alice, base)
    fake.script_text("Hel", "lo, ", "Alice!")
    run = await thread.run(text="hi")
    assert run[-1]["type"] == "RUN_FINISHED"
    assert text_of(run) == "Hello, Alice!"
    request = fake.requests[0]
    assert request["model"] == "fake-model" and request["stream"] is True
    offered = {t["function"]["name"] for t in request["tools"]}
    assert {"list_friends", "create_schedule_item", "list_schedule_items"} <= offered
    assert any(
        m["role"] == "user" and "hi" in json.dumps(m["content"]) for m in request["messages"]
    )
    assert fake.headers[0]["authorization"] == f"Bearer {API_KEY}"

    fake.script_tool_call("list_friends", "{}", call_id="call_friends")
    fake.script_text("Your friend is bob.")
    run = await thread.run(text="who are my friends?")
    assert run[-1]["type"] == "RUN_FINISHED"
    assert [(c[0], c[1]) for c in tool_calls(run)] == [("call_friends", "list_friends")]
    got = results(run)["call_friends"]
    assert got == {"ok": True, "friends": [{"id": bob.id, "username": "bob"}]}
    assert text_of(run) == "Your friend is bob."
    # The endpoint got the call and its result back, in OpenAI's format.
    assert len(fake.requests) == 3 and fake.pending == 0
    messages = fake.requests[2]["messages"]
    tool_message = next(m for m in messages if m["role"] == "tool")
    assert tool_message["tool_call_id"] == "call_friends"
    assert json.loads(tool_message["content"]) == got
    assistant = next(m for m in messages if m["role"] == "assistant" and m.get("tool_calls"))
    assert assistant["tool_calls"][0]["function"]["name"] == "list_friends"

    await assert_verified(thread.events)


async def test_openai_model_failure_is_a_run_error_without_the_key(
    api: Api, alice: Account, base: str, fake_openai_server: FakeOpenAI
) -> None:
    fake = fake_openai_server
    fake.script_error(500, "upstream exploded", retryable=False)
    thread = Thread(api, alice, base)
    run = await thread.run(text="hi")
    assert run[-1]["type"] == "RUN_ERROR", run[-1]
    assert "RUN_FINISHED" not in [e["type"] for e in run]
    assert run[-1]["code"] == "MODEL_ERROR"
    assert run[-1]["message"]
    assert API_KEY not in json.dumps(run)
    assert API_KEY[3:] not in json.dumps(run)

    # The thread goes on: the next run answers normally.
    fake.script_text("Back again.")
    run = await thread.run(text="hi again")
    assert run[-1]["type"] == "RUN_FINISHED" and text_of(run) == "Back again."
    await assert_verified(thread.events)
