"""Agent runs end to end with a scripted model (docs/contract.md §5): approvals of data-changing
server tools (AG-UI 1.0 `resume`, legacy tool messages, GraphQL `resumeAgentRun`), unanswered
interrupts, frontend tools, read-only server tools on the user's real data, bad tool calls, and the
plain AG-UI transport `POST /agent` driven by a stock `@ag-ui/client` HttpAgent. Every run's events,
read from the thread's SSE stream, pass the official AG-UI verifier."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import jsonpatch
import pytest
from ag_ui.core import ToolMessage

from agent_runtime.chat_model import ToolCallDelta
from models import ScheduleItem
from tests.support.agent import (
    ScriptedModel,
    events_url,
    http_base,
    read_sse,
    run_input,
    runs_done,
    text_turn,
    tool_turn,
    user_message,
)
from tests.support.agui_node import arun_http_agent, split_runs, verify_runs
from tests.support.client import API, Account, Api
from tests.support.live_server import live_server

Event = dict[str, Any]

LUNCH = {"title": "Lunch with Ann", "startAt": "2030-01-02T12:00:00+00:00"}
NAVIGATE = {
    "name": "navigate_route",
    "description": "Open a page of the app.",
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
    },
}
RESUME_GQL = """
mutation($threadId: ID!, $input: JSON!) {
  resumeAgentRun(threadId: $threadId, input: $input) { taskId threadId runId created }
}"""


@pytest.fixture
def chat_model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield http_base(ws_url)


class Conversation:
    """One thread of one user: starts runs and reads each run's events from the thread's SSE
    stream, resuming after the last event read."""

    def __init__(self, api: Api, account: Account, base: str, thread_id: str | None = None):
        self.api = api
        self.account = account
        self.base = base
        self.id = thread_id or str(uuid.uuid4())
        self.cursor: str | None = None
        self.events: list[Event] = []

    async def read_run(self) -> list[Event]:
        headers = dict(self.account.auth)
        if self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        read = await read_sse(events_url(self.base, self.id), headers, until=runs_done(1))
        assert read.status == 200, read.raw
        end = next(i for i, e in enumerate(read.events) if e.event in ("RUN_FINISHED", "RUN_ERROR"))
        sse = read.events[: end + 1]
        assert all(e.event == e.data["type"] for e in sse)
        self.cursor = sse[-1].id
        run = [e.data for e in sse]
        # Every run opens with RUN_STARTED (protocol 1.0) and a snapshot of the thread's state.
        assert run[0]["type"] == "RUN_STARTED" and run[0]["protocolVersion"] == "1.0", run[0]
        assert run[1]["type"] == "STATE_SNAPSHOT", run[:2]
        self.events.extend(run)
        return run

    async def start(self, text: str | None = None, **body: Any) -> list[Event]:
        r = await self.api.rest(
            "POST",
            "/agent/runs",
            self.account.access_token,
            json=run_input(self.id, text=text, **body),
        )
        assert r.status_code == 202, r.text
        assert r.json()["created"] is True
        return await self.read_run()

    async def resume(self, **body: Any) -> list[Event]:
        body.setdefault("messages", [])
        r = await self.api.rest(
            "POST",
            f"/agent/runs/{self.id}/resume",
            self.account.access_token,
            json=run_input(self.id, **body),
        )
        assert r.status_code == 202, r.text
        assert r.json()["created"] is True
        return await self.read_run()


def of_type(events: Sequence[Event], kind: str) -> list[Event]:
    return [e for e in events if e["type"] == kind]


def types(events: Sequence[Event]) -> list[str]:
    return [e["type"] for e in events]


def state_after(run: Sequence[Event]) -> dict[str, Any]:
    """The shared state a client holds at the end of `run` (snapshots and RFC 6902 deltas)."""
    state: dict[str, Any] = {}
    for event in run:
        if event["type"] == "STATE_SNAPSHOT":
            state = copy.deepcopy(event["snapshot"])
        elif event["type"] == "STATE_DELTA":
            state = jsonpatch.apply_patch(state, copy.deepcopy(event["delta"]))
    return state


def results(run: Sequence[Event]) -> dict[str, dict[str, Any]]:
    """TOOL_CALL_RESULT contents by tool call id."""
    return {e["toolCallId"]: json.loads(e["content"]) for e in of_type(run, "TOOL_CALL_RESULT")}


def text_of(run: Sequence[Event]) -> str:
    return "".join(e["delta"] for e in of_type(run, "TEXT_MESSAGE_CONTENT"))


async def assert_verified(*streams: Sequence[Event]) -> None:
    runs = [run for events in streams for run in split_runs(events)]
    assert runs
    report = await asyncio.to_thread(verify_runs, runs)
    errors = [(i, r["errors"]) for i, r in enumerate(report["runs"]) if not r["ok"]]
    assert report["ok"], json.dumps(errors, indent=1)


async def rest_items(api: Api, account: Account) -> list[dict[str, Any]]:
    r = await api.rest("GET", "/schedule-items", account.access_token)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    return items


# --- approvals ---------------------------------------------------------------------------------


async def interrupted_lunch(
    api: Api, alice: Account, base: str, chat_model: ScriptedModel
) -> tuple[Conversation, list[Event], str]:
    """A run whose model asks to create an item: it ends interrupted, awaiting approval."""
    chat_model.add_turn(*tool_turn("create_schedule_item", LUNCH, "call_lunch"))
    chat_model.add_turn(*text_turn("Done, ", "it is on your calendar."))
    conv = Conversation(api, alice, base)
    run = await conv.start("Schedule lunch with Ann")

    kinds = types(run)
    assert "TOOL_CALL_RESULT" not in kinds
    start = kinds.index("TOOL_CALL_START")
    assert run[start]["toolCallName"] == "create_schedule_item"
    assert run[start]["toolCallId"] == "call_lunch"
    args = "".join(e["delta"] for e in of_type(run, "TOOL_CALL_ARGS"))
    assert json.loads(args) == LUNCH
    # The approval is added by a STATE_DELTA; a STATE_SNAPSHOT, a MESSAGES_SNAPSHOT follow, and
    # RUN_FINISHED (interrupt) ends the run.
    delta_at = max(i for i, k in enumerate(kinds) if k == "STATE_DELTA")
    snapshot_at = max(i for i, k in enumerate(kinds) if k == "STATE_SNAPSHOT")
    messages_at = kinds.index("MESSAGES_SNAPSHOT")
    assert start < delta_at < snapshot_at < messages_at < len(run) - 1, kinds
    added = [
        op
        for op in run[delta_at]["delta"]
        if op["op"] == "add" and op["path"].startswith("/pendingApprovals")
    ]
    assert added, run[delta_at]
    before_delta = state_after(run[:delta_at])
    pending = jsonpatch.apply_patch(before_delta, copy.deepcopy(run[delta_at]["delta"]))
    entries = pending["pendingApprovals"]
    assert len(entries) == 1
    entry = entries[0]
    assert {k: entry[k] for k in ("toolCallId", "toolName", "args", "status")} == {
        "toolCallId": "call_lunch",
        "toolName": "create_schedule_item",
        "args": LUNCH,
        "status": "pending",
    }
    assert run[snapshot_at]["snapshot"] == pending
    snapshot_messages = run[messages_at]["messages"]
    assert [m["role"] for m in snapshot_messages] == ["user", "assistant"]
    assert snapshot_messages[1]["toolCalls"][0]["id"] == "call_lunch"

    finished = run[-1]
    assert finished["type"] == "RUN_FINISHED"
    outcome = finished["outcome"]
    assert outcome["type"] == "interrupt", outcome
    assert len(outcome["interrupts"]) == 1
    interrupt = outcome["interrupts"][0]
    assert interrupt["reason"] == "tool_call"
    assert interrupt["toolCallId"] == "call_lunch"
    assert isinstance(interrupt["id"], str) and interrupt["id"]
    assert isinstance(interrupt["message"], str) and interrupt["message"]

    # Nothing was created yet.
    assert await ScheduleItem.filter(owner_id=alice.id).count() == 0
    assert await rest_items(api, alice) == []
    return conv, run, interrupt["id"]


async def answer(
    api: Api, conv: Conversation, style: str, interrupt_id: str, approved: bool
) -> list[Event]:
    verdict: dict[str, Any] = {"approved": approved}
    if not approved:
        verdict["reason"] = "I am busy then"
    resume = [{"interruptId": interrupt_id, "status": "resolved", "payload": verdict}]
    if style == "resume":
        return await conv.resume(resume=resume)
    if style == "legacy":
        tool = {
            "id": f"tool-{uuid.uuid4().hex[:8]}",
            "role": "tool",
            "toolCallId": "call_lunch",
            "content": json.dumps(verdict),
        }
        return await conv.resume(messages=[tool])
    assert style == "graphql"
    body = await api.gql(
        RESUME_GQL,
        {"threadId": conv.id, "input": run_input(conv.id, messages=[], resume=resume)},
        conv.account.access_token,
    )
    assert "errors" not in body, body
    ticket = body["data"]["resumeAgentRun"]
    assert ticket["threadId"] == conv.id and ticket["created"] is True
    return await conv.read_run()


STYLES = ["resume", "legacy", "graphql"]


async def check_approved(
    api: Api, account: Account, run: list[Event], model: ScriptedModel
) -> None:
    assert run[-1]["type"] == "RUN_FINISHED", run[-1]
    assert run[-1].get("outcome", {"type": "success"})["type"] == "success"
    got = results(run)
    assert list(got) == ["call_lunch"], got
    assert got["call_lunch"]["ok"] is True, got
    assert got["call_lunch"]["item"]["title"] == "Lunch with Ann"
    # The item exists, made by the agent, for the user who approved it.
    rows = await ScheduleItem.filter(owner_id=account.id)
    assert len(rows) == 1 and rows[0].source_type == "agent" and rows[0].title == "Lunch with Ann"
    items = await rest_items(api, account)
    assert [(i["id"], i["source_type"]) for i in items] == [(str(rows[0].id), "agent")]
    assert items[0]["start_at"].startswith("2030-01-02T12:00:00")
    # The approval is marked approved in the state the run leaves behind.
    entries = state_after(run)["pendingApprovals"]
    assert [(e["toolCallId"], e["status"]) for e in entries] == [("call_lunch", "approved")]
    # The model continued with the tool's result.
    last = model.requests[-1].messages[-1]
    assert isinstance(last, ToolMessage) and last.tool_call_id == "call_lunch"
    assert json.loads(str(last.content))["ok"] is True
    assert text_of(run) == "Done, it is on your calendar."


async def check_rejected(
    api: Api, account: Account, run: list[Event], model: ScriptedModel
) -> None:
    assert run[-1]["type"] == "RUN_FINISHED", run[-1]
    got = results(run)
    assert list(got) == ["call_lunch"], got
    assert got["call_lunch"]["ok"] is False
    assert "reject" in json.dumps(got["call_lunch"]).lower()
    assert await ScheduleItem.filter(owner_id=account.id).count() == 0
    assert await rest_items(api, account) == []
    entries = state_after(run)["pendingApprovals"]
    assert [(e["toolCallId"], e["status"]) for e in entries] == [("call_lunch", "rejected")]
    # The model's next request carries the rejection as the call's tool message.
    last = model.requests[-1].messages[-1]
    assert isinstance(last, ToolMessage) and last.tool_call_id == "call_lunch"
    assert "reject" in str(last.content).lower()


@pytest.mark.parametrize("style", STYLES)
async def test_approval_answered(
    api: Api, alice: Account, bob: Account, base: str, chat_model: ScriptedModel, style: str
) -> None:
    """Alice approves her call (the item is created); Bob rejects his (nothing changes)."""
    approved, _, interrupt_id = await interrupted_lunch(api, alice, base, chat_model)
    run = await answer(api, approved, style, interrupt_id, approved=True)
    assert len(chat_model.requests) == 2
    await check_approved(api, alice, run, chat_model)

    rejected, _, interrupt_id = await interrupted_lunch(api, bob, base, chat_model)
    run = await answer(api, rejected, style, interrupt_id, approved=False)
    assert len(chat_model.requests) == 4
    await check_rejected(api, bob, run, chat_model)
    assert "I am busy then" in str(chat_model.requests[-1].messages[-1].content)

    await assert_verified(approved.events, rejected.events)


async def test_unanswered_interrupt_fails_the_run_and_cancelled_means_rejected(
    api: Api, alice: Account, bob: Account, base: str, chat_model: ScriptedModel
) -> None:
    conv, _, interrupt_id = await interrupted_lunch(api, alice, base, chat_model)
    # A resume must answer what is open on the thread, and only its owner may resume it.
    path = f"/agent/runs/{conv.id}/resume"
    unknown = run_input(
        conv.id, messages=[], resume=[{"interruptId": "nope", "status": "resolved"}]
    )
    r = await api.rest("POST", path, alice.access_token, json=unknown)
    assert r.status_code == 422, r.text
    stray = {"id": "t-x", "role": "tool", "toolCallId": "call_other", "content": "{}"}
    r = await api.rest("POST", path, alice.access_token, json=run_input(conv.id, messages=[stray]))
    assert r.status_code == 422, r.text
    r = await api.rest("POST", path, alice.access_token, json=run_input(str(uuid.uuid4())))
    assert r.status_code == 422, r.text
    resume = [{"interruptId": interrupt_id, "status": "resolved", "payload": {"approved": True}}]
    r = await api.rest("POST", path, bob.access_token, json=run_input(conv.id, resume=resume))
    assert r.status_code == 403, r.text
    assert await ScheduleItem.all().count() == 0

    run = await conv.start("never mind, what's the weather?")
    assert run[-1]["type"] == "RUN_ERROR", types(run)
    assert "RUN_FINISHED" not in types(run)
    assert isinstance(run[-1]["message"], str) and run[-1]["message"]
    assert len(chat_model.requests) == 1  # the model was not asked to go on
    assert await ScheduleItem.filter(owner_id=alice.id).count() == 0
    entries = state_after(run)["pendingApprovals"]
    assert [e["status"] for e in entries] == ["pending"]

    # The interrupt is still open and can be answered.
    run = await conv.resume(resume=resume)
    await check_approved(api, alice, run, chat_model)

    # A cancelled interrupt is a rejection.
    other, _, interrupt_id = await interrupted_lunch(api, bob, base, chat_model)
    run = await other.resume(resume=[{"interruptId": interrupt_id, "status": "cancelled"}])
    await check_rejected(api, bob, run, chat_model)

    await assert_verified(conv.events, other.events)


# --- frontend tools ----------------------------------------------------------------------------


async def test_frontend_tool_round_trip(
    api: Api, alice: Account, base: str, chat_model: ScriptedModel
) -> None:
    chat_model.add_turn(*tool_turn("navigate_route", {"path": "/calendar"}, "call_nav"))
    chat_model.add_turn(*text_turn("The calendar is open."))
    conv = Conversation(api, alice, base)
    first = user_message("open the calendar")
    run = await conv.start(messages=[first], tools=[NAVIGATE])

    offered = {t.name for t in chat_model.requests[0].tools}
    assert {"navigate_route", "create_schedule_item", "list_friends"} <= offered
    kinds = types(run)
    assert [k for k in kinds if k.startswith("TOOL_CALL")] == [
        "TOOL_CALL_START",
        *["TOOL_CALL_ARGS"] * kinds.count("TOOL_CALL_ARGS"),
        "TOOL_CALL_END",
    ]
    start = of_type(run, "TOOL_CALL_START")[0]
    assert start["toolCallName"] == "navigate_route" and start["toolCallId"] == "call_nav"
    args = "".join(e["delta"] for e in of_type(run, "TOOL_CALL_ARGS"))
    assert json.loads(args) == {"path": "/calendar"}
    assert run[-1]["type"] == "RUN_FINISHED"
    assert run[-1]["outcome"] == {"type": "success", "pendingToolCallIds": ["call_nav"]}

    # The client runs the tool and sends the whole conversation back, as AG-UI clients do.
    assistant = {
        "id": start["parentMessageId"],
        "role": "assistant",
        "toolCalls": [
            {
                "id": "call_nav",
                "type": "function",
                "function": {"name": "navigate_route", "arguments": args},
            }
        ],
    }
    tool = {"id": "tool-nav", "role": "tool", "toolCallId": "call_nav", "content": '{"ok": true}'}
    run = await conv.start(messages=[first, assistant, tool], tools=[NAVIGATE])
    assert run[-1]["type"] == "RUN_FINISHED"
    assert run[-1].get("outcome", {}).get("pendingToolCallIds") in (None, [])
    assert "TOOL_CALL_RESULT" not in types(run)
    assert text_of(run) == "The calendar is open."
    seen = chat_model.requests[1].messages
    assert [m.role for m in seen] == ["user", "assistant", "tool"]  # each message once
    assert isinstance(seen[-1], ToolMessage) and seen[-1].tool_call_id == "call_nav"
    assert seen[-1].content == '{"ok": true}'

    await assert_verified(conv.events)


# --- read-only server tools --------------------------------------------------------------------


async def test_read_only_tools_run_at_once_on_the_users_data(
    api: Api, alice: Account, bob: Account, carol: Account, base: str, chat_model: ScriptedModel
) -> None:
    # Alice's data, made through the REST API: a friend, an item, an invitation.
    r = await api.rest(
        "POST", "/friends/requests", alice.access_token, json={"target_user_id": bob.id}
    )
    assert r.status_code == 201, r.text
    r = await api.rest("POST", f"/friends/requests/{r.json()['id']}/accept", bob.access_token)
    assert r.status_code == 200, r.text
    r = await api.rest(
        "POST",
        "/schedule-items",
        alice.access_token,
        json={"title": "Dentist", "start_at": "2030-01-01T09:00:00Z"},
    )
    assert r.status_code == 201, r.text
    dentist = r.json()["id"]
    r = await api.rest(
        "POST",
        "/schedule-items",
        carol.access_token,
        json={"title": "Carol's party", "start_at": "2030-01-03T19:00:00Z"},
    )
    assert r.status_code == 201, r.text
    party = r.json()["id"]
    r = await api.rest(
        "POST", f"/schedule-items/{party}/share", carol.access_token, json={"email": alice.email}
    )
    assert r.status_code == 200, r.text

    chat_model.add_turn(
        *tool_turn("list_schedule_items", {}, "call_items"),
        *tool_turn("list_friends", {}, "call_friends"),
        *tool_turn("list_inbox_messages", {}, "call_inbox"),
    )
    chat_model.add_turn(*text_turn("You have a dentist appointment."))
    conv = Conversation(api, alice, base)
    run = await conv.start("what do I have?")

    assert run[-1]["type"] == "RUN_FINISHED"
    assert run[-1].get("outcome", {"type": "success"}) in (
        {"type": "success"},
        {"type": "success", "pendingToolCallIds": []},
    )
    assert "pendingApprovals" not in state_after(run)
    got = results(run)
    assert set(got) == {"call_items", "call_friends", "call_inbox"}
    assert all(result["ok"] is True for result in got.values()), got
    assert [(i["id"], i["title"]) for i in got["call_items"]["items"]] == [(dentist, "Dentist")]
    assert got["call_friends"]["friends"] == [{"id": bob.id, "username": "bob"}]
    invitations = [m for m in got["call_inbox"]["messages"] if m["messageType"] == "calendar"]
    assert [(m["scheduleItemId"], m["status"]) for m in invitations] == [(party, "pending")]
    # Each result streams after its call ended.
    kinds = types(run)
    for result in of_type(run, "TOOL_CALL_RESULT"):
        end = next(
            i
            for i, e in enumerate(run)
            if e["type"] == "TOOL_CALL_END" and e["toolCallId"] == result["toolCallId"]
        )
        assert end < run.index(result)
    assert kinds.count("TOOL_CALL_START") == 3
    # The model got a second turn with the three results.
    assert len(chat_model.requests) == 2
    tool_messages = [m for m in chat_model.requests[1].messages if isinstance(m, ToolMessage)]
    assert {m.tool_call_id for m in tool_messages} == set(got)
    assert text_of(run) == "You have a dentist appointment."

    await assert_verified(conv.events)


async def test_bad_tool_calls_are_answered_not_crashed(
    api: Api, alice: Account, base: str, chat_model: ScriptedModel
) -> None:
    chat_model.add_turn(
        *tool_turn("list_schedule_items", {"startAt": "not a date"}, "call_bad_args"),
        *tool_turn("teleport", {"to": "Mars"}, "call_unknown"),
        ToolCallDelta("call_bad_json", "list_friends", '{"oops": '),
    )
    chat_model.add_turn(*text_turn("Sorry, that did not work."))
    conv = Conversation(api, alice, base)
    run = await conv.start("do odd things")
    assert run[-1]["type"] == "RUN_FINISHED", run[-1]
    got = results(run)
    assert set(got) == {"call_bad_args", "call_unknown", "call_bad_json"}, got
    for result in got.values():
        assert result["ok"] is False and isinstance(result["error"], str), result
    assert len(chat_model.requests) == 2

    # A data-changing call with invalid arguments: approved, it fails as a result, not a crash.
    chat_model.add_turn(*tool_turn("create_schedule_item", {"title": ""}, "call_empty"))
    chat_model.add_turn(*text_turn("Could not create it."))
    run = await conv.start("create something empty")
    assert run[-1]["outcome"]["type"] == "interrupt"
    interrupt_id = run[-1]["outcome"]["interrupts"][0]["id"]
    run = await conv.resume(
        resume=[{"interruptId": interrupt_id, "status": "resolved", "payload": {"approved": True}}]
    )
    assert run[-1]["type"] == "RUN_FINISHED", run[-1]
    assert results(run)["call_empty"]["ok"] is False
    assert await ScheduleItem.filter(owner_id=alice.id).count() == 0

    await assert_verified(conv.events)


async def test_repeating_and_all_day_arguments_reach_the_resolver(
    api: Api, alice: Account, base: str, chat_model: ScriptedModel
) -> None:
    """`recurrence` and `allDay` go through the same input as REST: a bad rule or a time on an
    all-day item is the call's result, saying why; good ones make the series."""
    bad_rule = {
        "title": "Sync",
        "startAt": "2030-01-07T10:00:00+00:00",
        "recurrence": "FREQ=SOMETIMES",
    }
    not_first = {**bad_rule, "recurrence": "FREQ=WEEKLY;BYDAY=TU"}  # 2030-01-07 is a Monday
    timed_all_day = {"title": "Offsite", "startAt": "2030-01-07T10:00:00+00:00", "allDay": True}
    good = {
        "title": "Offsite",
        "startAt": "2030-01-07",
        "allDay": True,
        "timezone": "Europe/Berlin",
        "recurrence": "FREQ=WEEKLY;COUNT=2",
    }
    chat_model.add_turn(
        *tool_turn("create_schedule_item", bad_rule, "call_rule"),
        *tool_turn("create_schedule_item", not_first, "call_first"),
        *tool_turn("create_schedule_item", timed_all_day, "call_time"),
        *tool_turn("create_schedule_item", good, "call_good"),
    )
    chat_model.add_turn(*text_turn("Done."))
    conv = Conversation(api, alice, base)
    run = await conv.start("make them")
    interrupts = run[-1]["outcome"]["interrupts"]
    assert len(interrupts) == 4
    resume = [
        {"interruptId": i["id"], "status": "resolved", "payload": {"approved": True}}
        for i in interrupts
    ]
    got = results(await conv.resume(resume=resume))
    assert got["call_rule"] == {
        "ok": False,
        "error": "recurrence: FREQ=SOMETIMES is not a frequency",
    }
    assert got["call_first"]["ok"] is False
    assert "start_at must be the rule's first occurrence" in got["call_first"]["error"]
    assert got["call_time"]["ok"] is False and "all-day" in got["call_time"]["error"]
    item = got["call_good"]["item"]
    assert (item["allDay"], item["startDate"], item["endDate"]) == (
        True,
        "2030-01-07",
        "2030-01-08",
    )
    assert item["recurrence"] == "FREQ=WEEKLY;COUNT=2"
    # Two whole days, from Berlin's midnights.
    entries = await rest_items(api, alice)
    assert [(e["title"], e["occurrence_start_at"], e["occurrence_end_at"]) for e in entries] == [
        ("Offsite", "2030-01-06T23:00:00Z", "2030-01-07T23:00:00Z"),
        ("Offsite", "2030-01-13T23:00:00Z", "2030-01-14T23:00:00Z"),
    ]
    await assert_verified(conv.events)


# --- POST /agent: the plain AG-UI transport ----------------------------------------------------


async def test_stock_http_agent_runs_against_post_agent(
    api: Api, alice: Account, bob: Account, base: str, chat_model: ScriptedModel
) -> None:
    chat_model.add_turn(*text_turn("Hello ", "from ", "the server."))
    thread_id = str(uuid.uuid4())
    report = await arun_http_agent(
        f"{base}{API}/agent", alice.access_token, thread_id, "run-http-1", "hello"
    )
    assert report["ok"], report
    assert report["events"][0] == "RUN_STARTED" and report["events"][-1] == "RUN_FINISHED"
    assert report["runError"] is None
    assert report["runFinished"] is not None
    assert report["warnings"] == []  # nothing a stock client would strip or complain about
    said = [m for m in report["messages"] if m.get("role") == "assistant"]
    assert said and said[-1]["content"] == "Hello from the server."
    assert chat_model.requests[0].messages[-1].content == "hello"

    # The same run is on the thread's stream for any other subscriber.
    conv = Conversation(api, alice, base, thread_id)
    seen = await conv.read_run()
    assert seen[0]["runId"] == "run-http-1"
    assert types(seen) == report["events"]
    assert text_of(seen) == "Hello from the server."
    await assert_verified(conv.events)

    # Another user's thread is refused, and so is a body that is no RunAgentInput.
    r = await api.rest("POST", "/agent", bob.access_token, json=run_input(thread_id, text="mine?"))
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    for bad in (
        {},
        {"threadId": "not-a-uuid", "runId": "r1", "messages": []},
        {"threadId": str(uuid.uuid4()), "messages": []},
        {"threadId": str(uuid.uuid4()), "runId": "r1", "messages": "nope"},
    ):
        r = await api.rest("POST", "/agent", alice.access_token, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"], r.json()
    r = await api.rest("POST", "/agent", None, json=run_input(str(uuid.uuid4()), text="hi"))
    assert r.status_code == 401, r.text
    assert len(chat_model.requests) == 1  # none of these reached the model
