"""docs/contract.md §5 accepting agent runs, through REST and GraphQL: idempotency on (threadId,
runId), thread ownership, validation (422 / BAD_USER_INPUT, leaving no thread behind), resume rules,
per-thread execution order, and the caller's thread list."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest

from agent_runtime.tool_specs import CREATE_SCHEDULE_ITEM, NAVIGATE_ROUTE
from models import AgentMessage, AgentRun, AgentThread
from tests.support.agent import (
    TERMINAL,
    ScriptedModel,
    events_url,
    http_base,
    new_thread,
    read_sse,
    run_input,
    runs_done,
    start_run,
    text_turn,
    tool_turn,
    user_message,
    wait_idle,
)
from tests.support.calendar_api import instant, problem
from tests.support.client import Account, Api, gql_code
from tests.support.live_server import live_server

START = """mutation($input: JSON!) {
  startAgentRun(input: $input) { taskId threadId runId created }
}"""
RESUME = """mutation($threadId: ID!, $input: JSON!) {
  resumeAgentRun(threadId: $threadId, input: $input) { taskId threadId runId created }
}"""
HISTORY = """query($threadId: ID) {
  agentHistory(threadId: $threadId) { threadId day hasMore messages cursor }
}"""
THREADS = "{ agentThreads { id lastActiveAt } }"
TICKET_KEYS = {"taskId", "threadId", "runId", "created"}
NAVIGATE_TOOL = {
    "name": NAVIGATE_ROUTE,
    "description": "Open a page of the app.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
}
SECRET = "alice's secret plans for tuesday"


@pytest.fixture
def chat_model() -> ScriptedModel:
    """The app's agent plays this script (and answers "ok" once it runs out)."""
    return ScriptedModel()


# --- helpers --------------------------------------------------------------------------------------


async def rest_start(api: Api, account: Account | None, body: Any) -> httpx.Response:
    token = account.access_token if account else None
    return await api.rest("POST", "/agent/runs", token, json=body)


async def rest_resume(
    api: Api, account: Account | None, thread_id: str, body: Any
) -> httpx.Response:
    token = account.access_token if account else None
    return await api.rest("POST", f"/agent/runs/{thread_id}/resume", token, json=body)


async def gql_start(api: Api, account: Account | None, body: Any) -> dict[str, Any]:
    token = account.access_token if account else None
    return await api.gql(START, {"input": body}, token)


async def gql_resume(
    api: Api, account: Account | None, thread_id: str, body: Any
) -> dict[str, Any]:
    token = account.access_token if account else None
    return await api.gql(RESUME, {"threadId": thread_id, "input": body}, token)


def ticket_of(response: httpx.Response, *, created: bool) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    ticket: dict[str, Any] = response.json()
    assert set(ticket) == TICKET_KEYS, ticket
    assert ticket["created"] is created, ticket
    assert isinstance(ticket["taskId"], str) and ticket["taskId"], ticket
    return ticket


def invalid(response: httpx.Response) -> dict[str, Any]:
    """A 422 problem with a non-empty `errors` list of {loc, msg}."""
    body = problem(response, 422)
    assert body["errors"], body
    for error in body["errors"]:
        assert isinstance(error["loc"], list) and error["msg"], body
    return body


def gql_error(body: dict[str, Any], code: str, field: str) -> None:
    assert gql_code(body) == code, body
    assert (body.get("data") or {}).get(field) is None, body


async def owned_thread_of(api: Api, owner: Account) -> tuple[str, dict[str, Any]]:
    """A thread of `owner` with one finished run that stored SECRET; (thread id, ticket)."""
    thread_id = new_thread()
    ticket = await start_run(api, owner, run_input(thread_id, "run-1", SECRET))
    await wait_idle(thread_id)
    return thread_id, ticket


# --- acceptance and idempotency -------------------------------------------------------------------


async def test_a_run_is_accepted_once_per_thread_and_run_id(api: Api, alice: Account) -> None:
    thread_id = new_thread()
    body = run_input(thread_id, "run-a", "hello")
    first = ticket_of(await rest_start(api, alice, body), created=True)
    assert first["threadId"] == thread_id and first["runId"] == "run-a"
    again = ticket_of(await rest_start(api, alice, body), created=False)
    assert again == {**first, "created": False}
    # The repeat is recognised by (threadId, runId), whatever else the body says.
    other_text = run_input(thread_id, "run-a", "something else")
    assert ticket_of(await rest_start(api, alice, other_text), created=False) == again
    rows = await AgentRun.filter(thread_id=thread_id)
    assert [(r.run_id, r.task_id) for r in rows] == [("run-a", first["taskId"])]
    thread = await AgentThread.get(id=thread_id)
    assert str(thread.owner_id) == alice.id
    # A new runId on the same thread is a new run with its own task.
    second = ticket_of(await rest_start(api, alice, run_input(thread_id, "run-b")), created=True)
    assert second["taskId"] != first["taskId"]
    assert await AgentRun.filter(thread_id=thread_id).count() == 2
    assert await AgentThread.all().count() == 1


async def test_graphql_start_is_idempotent_like_rest(api: Api, alice: Account) -> None:
    thread_id = new_thread()
    body = run_input(thread_id, "run-g", "hello")
    first = await gql_start(api, alice, body)
    assert "errors" not in first, first
    ticket = first["data"]["startAgentRun"]
    assert ticket["created"] is True and ticket["threadId"] == thread_id
    assert ticket["runId"] == "run-g"
    # The same run through the other door is the same run.
    rest = ticket_of(await rest_start(api, alice, body), created=False)
    assert rest["taskId"] == ticket["taskId"]
    again = await gql_start(api, alice, body)
    assert again["data"]["startAgentRun"] == {**ticket, "created": False}
    assert await AgentRun.filter(thread_id=thread_id).count() == 1


@pytest.mark.parametrize("fresh_thread", [True, False], ids=["new-thread", "existing-thread"])
async def test_concurrent_identical_starts_make_one_run(
    api: Api, alice: Account, fresh_thread: bool
) -> None:
    thread_id = new_thread()
    if not fresh_thread:
        await start_run(api, alice, run_input(thread_id, "run-0", "first"))
    body = run_input(thread_id, "run-x", "hello")
    responses = await asyncio.gather(*(rest_start(api, alice, body) for _ in range(30)))
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    tickets = [r.json() for r in responses]
    assert sum(t["created"] for t in tickets) == 1, tickets
    assert len({t["taskId"] for t in tickets}) == 1, tickets
    assert {t["runId"] for t in tickets} == {"run-x"}
    assert await AgentRun.filter(thread_id=thread_id, run_id="run-x").count() == 1
    assert await AgentThread.filter(id=thread_id).count() == 1
    await wait_idle(thread_id)
    # The run executed once: its user message is stored once.
    assert await AgentMessage.filter(thread_id=thread_id, role="user").count() == (
        1 if fresh_thread else 2
    )


# --- ownership ------------------------------------------------------------------------------------


async def test_another_users_thread_is_forbidden_over_rest(
    api: Api, alice: Account, bob: Account
) -> None:
    thread_id, ticket = await owned_thread_of(api, alice)
    responses = [
        # Even the very run alice started: no ticket of hers for bob.
        await rest_start(api, bob, run_input(thread_id, "run-1", "hi")),
        await rest_start(api, bob, run_input(thread_id, "run-bob", "hi")),
        await rest_resume(api, bob, thread_id, run_input(thread_id, "run-bob")),
        await api.rest("GET", f"/agent/runs/{thread_id}/events", bob.access_token),
        await api.rest("GET", f"/agent/runs/{thread_id}/history", bob.access_token),
        await api.rest("GET", f"/agent/history?threadId={thread_id}", bob.access_token),
    ]
    for response in responses:
        problem(response, 403)
        assert ticket["taskId"] not in response.text and "secret" not in response.text
    # Bob's own default history is not alice's thread.
    r = await api.rest("GET", "/agent/history", bob.access_token)
    assert r.status_code == 200, r.text
    assert r.json()["threadId"] is None and r.json()["snapshot"]["messages"] == []
    # Nothing of bob's was recorded on alice's thread.
    assert [r.run_id for r in await AgentRun.filter(thread_id=thread_id)] == ["run-1"]
    assert str((await AgentThread.get(id=thread_id)).owner_id) == alice.id
    # Alice still sees her thread.
    r = await api.rest("GET", f"/agent/runs/{thread_id}/history", alice.access_token)
    assert r.status_code == 200 and SECRET in r.text, r.text


async def test_another_users_thread_is_forbidden_over_graphql(
    api: Api, alice: Account, bob: Account
) -> None:
    thread_id, ticket = await owned_thread_of(api, alice)
    answers = [
        ("startAgentRun", await gql_start(api, bob, run_input(thread_id, "run-1", "hi"))),
        ("startAgentRun", await gql_start(api, bob, run_input(thread_id, "run-bob"))),
        ("resumeAgentRun", await gql_resume(api, bob, thread_id, run_input(thread_id, "r"))),
        ("agentHistory", await api.gql(HISTORY, {"threadId": thread_id}, bob.access_token)),
    ]
    for field, body in answers:
        gql_error(body, "FORBIDDEN", field)
        assert ticket["taskId"] not in str(body) and "secret" not in str(body)
    threads = await api.gql(THREADS, token=bob.access_token)
    assert threads["data"]["agentThreads"] == []
    assert [r.run_id for r in await AgentRun.filter(thread_id=thread_id)] == ["run-1"]


async def test_without_a_token_every_route_is_401(api: Api, alice: Account) -> None:
    thread_id, _ = await owned_thread_of(api, alice)
    body = run_input(thread_id, "run-anon", "hi")
    for response in [
        await rest_start(api, None, body),
        await rest_start(api, None, run_input(new_thread(), "run-anon")),
        await rest_resume(api, None, thread_id, body),
        await api.rest("GET", f"/agent/runs/{thread_id}/events"),
        await api.rest("GET", f"/agent/runs/{thread_id}/history"),
        await api.rest("GET", "/agent/history"),
    ]:
        problem(response, 401)
    gql_error(await gql_start(api, None, body), "UNAUTHENTICATED", "startAgentRun")
    gql_error(await gql_resume(api, None, thread_id, body), "UNAUTHENTICATED", "resumeAgentRun")
    gql_error(await api.gql(THREADS), "UNAUTHENTICATED", "agentThreads")
    assert await AgentRun.all().count() == 1 and await AgentThread.all().count() == 1


# --- validation -----------------------------------------------------------------------------------


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def _bad_bodies(thread_id: str) -> dict[str, Any]:
    good = run_input(thread_id, "run-1", "hello")
    return {
        "thread-not-uuid": {**good, "threadId": "not-a-uuid"},
        "thread-missing": _without(good, "threadId"),
        "run-id-missing": _without(good, "runId"),
        "run-id-empty": {**good, "runId": ""},
        "run-id-too-long": {**good, "runId": "r" * 201},
        "messages-not-list": {**good, "messages": "hello"},
        "unknown-role": {**good, "messages": [{"id": "m1", "role": "wizard", "content": "hi"}]},
        "body-is-list": [good],
        "body-is-string": "hello",
        "nul-in-content": {**good, "messages": [user_message("hel\x00lo")]},
        "nul-in-state": {**good, "state": {"note": "a\x00b"}},
    }


BAD_CASES = list(_bad_bodies(str(uuid.UUID(int=0))))


@pytest.mark.parametrize("case", BAD_CASES)
async def test_an_invalid_start_is_422_and_leaves_no_thread(
    api: Api, alice: Account, case: str
) -> None:
    body = _bad_bodies(new_thread())[case]
    invalid(await rest_start(api, alice, body))
    gql_error(await gql_start(api, alice, body), "BAD_USER_INPUT", "startAgentRun")
    assert await AgentThread.all().count() == 0
    assert await AgentRun.all().count() == 0


@pytest.mark.parametrize("case", BAD_CASES)
async def test_an_invalid_resume_is_422(api: Api, alice: Account, case: str) -> None:
    thread_id, _ = await owned_thread_of(api, alice)
    body = _bad_bodies(thread_id)[case]
    invalid(await rest_resume(api, alice, thread_id, body))
    gql_error(await gql_resume(api, alice, thread_id, body), "BAD_USER_INPUT", "resumeAgentRun")
    assert await AgentRun.all().count() == 1


async def test_a_thread_id_is_checked_for_shape(api: Api, alice: Account) -> None:
    invalid(await api.rest("GET", "/agent/history?threadId=nope", alice.access_token))
    gql_error(
        await api.gql(HISTORY, {"threadId": "nope"}, alice.access_token),
        "BAD_USER_INPUT",
        "agentHistory",
    )


async def test_an_invalid_run_on_an_existing_thread_changes_nothing(
    api: Api, alice: Account
) -> None:
    thread_id, ticket = await owned_thread_of(api, alice)
    invalid(await rest_start(api, alice, {**run_input(thread_id, text="hi"), "runId": ""}))
    invalid(
        await rest_start(api, alice, run_input(thread_id, "run-9", messages=[user_message("\x00")]))
    )
    rows = await AgentRun.filter(thread_id=thread_id)
    assert [(r.run_id, r.task_id) for r in rows] == [("run-1", ticket["taskId"])]


# --- resume ---------------------------------------------------------------------------------------


async def test_resume_requires_the_body_thread_to_equal_the_path(api: Api, alice: Account) -> None:
    thread_id, _ = await owned_thread_of(api, alice)
    other = new_thread()
    body = run_input(other, "run-2", "hello")
    error = invalid(await rest_resume(api, alice, thread_id, body))
    assert ["body", "threadId"] in [e["loc"] for e in error["errors"]], error
    gql_error(await gql_resume(api, alice, thread_id, body), "BAD_USER_INPUT", "resumeAgentRun")
    # Nor the other way round, onto a thread that does not exist yet.
    invalid(await rest_resume(api, alice, other, run_input(thread_id, "run-2", "hello")))
    assert await AgentRun.all().count() == 1
    assert await AgentThread.filter(id=other).count() == 0


async def test_resume_answers_only_open_tool_calls(
    api: Api, alice: Account, chat_model: ScriptedModel
) -> None:
    thread_id = new_thread()
    chat_model.add_turn(*tool_turn(NAVIGATE_ROUTE, {"path": "/calendar"}, call_id="call_nav"))
    await start_run(
        api, alice, run_input(thread_id, "run-1", "open my calendar", tools=[NAVIGATE_TOOL])
    )
    await wait_idle(thread_id)

    def answer(call_id: str, run_id: str = "run-2", message_id: str = "") -> dict[str, Any]:
        message_id = message_id or f"tool-{call_id}"
        message = {"id": message_id, "role": "tool", "toolCallId": call_id, "content": "{}"}
        return run_input(thread_id, run_id, messages=[message])

    for body in (answer("call_unknown"), answer("")):
        error = invalid(await rest_resume(api, alice, thread_id, body))
        assert ["body", "messages", 0, "toolCallId"] in [e["loc"] for e in error["errors"]]
        gql_error(await gql_resume(api, alice, thread_id, body), "BAD_USER_INPUT", "resumeAgentRun")
    # A tool message on a thread that does not exist answers nothing: 422, and no thread.
    stranger = new_thread()
    message = {"id": "t1", "role": "tool", "toolCallId": "call_nav", "content": "{}"}
    body = run_input(stranger, "run-1", messages=[message])
    invalid(await rest_start(api, alice, body))
    invalid(await rest_resume(api, alice, stranger, body))
    assert await AgentThread.filter(id=stranger).count() == 0
    assert await AgentRun.filter(thread_id=thread_id).count() == 1

    # The open call is answered: 202, idempotent like a start.
    first = ticket_of(await rest_resume(api, alice, thread_id, answer("call_nav")), created=True)
    assert first["threadId"] == thread_id and first["runId"] == "run-2"
    again = await gql_resume(api, alice, thread_id, answer("call_nav"))
    assert again["data"]["resumeAgentRun"] == {**first, "created": False}, again
    await wait_idle(thread_id)
    # Once answered, the call is no longer open: a second, different answer to it is refused,
    # while the whole conversation resent with the stored answer (as AG-UI clients do) is not.
    invalid(await rest_resume(api, alice, thread_id, answer("call_nav", "run-3", "tool-again")))
    assert await AgentRun.filter(thread_id=thread_id).count() == 2
    ticket_of(await rest_resume(api, alice, thread_id, answer("call_nav", "run-3")), created=True)
    await wait_idle(thread_id)


async def test_resume_entries_must_name_an_open_interrupt(
    api: Api, alice: Account, chat_model: ScriptedModel
) -> None:
    thread_id = new_thread()
    arguments = {"title": "Lunch", "startAt": "2026-03-07T12:00:00+08:00"}
    chat_model.add_turn(*tool_turn(CREATE_SCHEDULE_ITEM, arguments, call_id="call_make"))
    await start_run(api, alice, run_input(thread_id, "run-1", "schedule lunch"))
    await wait_idle(thread_id)
    thread = await AgentThread.get(id=thread_id)
    [pending] = thread.state["pendingApprovals"]
    interrupt = pending["interruptId"]

    def resume(interrupt_id: str, run_id: str = "run-2") -> dict[str, Any]:
        entry = {"interruptId": interrupt_id, "status": "resolved", "payload": {"approved": False}}
        return run_input(thread_id, run_id, resume=[entry])

    error = invalid(await rest_resume(api, alice, thread_id, resume("approval-nope")))
    assert ["body", "resume", 0, "interruptId"] in [e["loc"] for e in error["errors"]]
    gql_error(
        await gql_resume(api, alice, thread_id, resume("approval-nope")),
        "BAD_USER_INPUT",
        "resumeAgentRun",
    )
    assert await AgentRun.filter(thread_id=thread_id).count() == 1

    ticket_of(await rest_resume(api, alice, thread_id, resume(interrupt)), created=True)
    await wait_idle(thread_id)
    thread = await AgentThread.get(id=thread_id)
    assert thread.state["pendingApprovals"][0]["status"] == "rejected"
    # The interrupt is closed now: answering it again is unknown.
    invalid(await rest_resume(api, alice, thread_id, resume(interrupt, run_id="run-3")))


async def test_a_resume_may_leave_out_messages_and_a_start_may_not(
    api: Api, alice: Account, chat_model: ScriptedModel
) -> None:
    """A resume that only answers interrupts sends `threadId`, `runId`, `resume` (as the README
    shows); `messages` is none then. A start without `messages` stays 422."""
    started = run_input(new_thread(), "run-1")
    del started["messages"]
    error = invalid(await rest_start(api, alice, started))
    assert ["body", "messages"] in [e["loc"] for e in error["errors"]], error
    gql_error(await gql_start(api, alice, started), "BAD_USER_INPUT", "startAgentRun")
    assert await AgentThread.all().count() == 0

    async def waiting_for_approval() -> tuple[str, str]:
        thread_id = new_thread()
        arguments = {"title": "Lunch", "startAt": "2026-03-07T12:00:00+08:00"}
        chat_model.add_turn(*tool_turn(CREATE_SCHEDULE_ITEM, arguments))
        await start_run(api, alice, run_input(thread_id, "run-1", "schedule lunch"))
        await wait_idle(thread_id)
        [pending] = (await AgentThread.get(id=thread_id)).state["pendingApprovals"]
        return thread_id, pending["interruptId"]

    def approval(thread_id: str, interrupt_id: str) -> dict[str, Any]:
        entry = {"interruptId": interrupt_id, "status": "resolved", "payload": {"approved": True}}
        return {"threadId": thread_id, "runId": "run-2", "resume": [entry]}

    # Both threads wait before either resumes: a resumed run's model turn must not take the
    # scripted tool call meant for the other thread.
    (over_rest, rest_interrupt), (over_graphql, gql_interrupt) = [
        await waiting_for_approval() for _ in range(2)
    ]
    resumed = await rest_resume(api, alice, over_rest, approval(over_rest, rest_interrupt))
    ticket_of(resumed, created=True)
    answer = await gql_resume(api, alice, over_graphql, approval(over_graphql, gql_interrupt))
    assert answer["data"]["resumeAgentRun"]["created"] is True, answer
    for thread_id in (over_rest, over_graphql):
        await wait_idle(thread_id)
        thread = await AgentThread.get(id=thread_id)
        assert thread.state["pendingApprovals"][0]["status"] == "approved", thread.state
        resumed_run = await AgentRun.get(thread_id=thread_id, run_id="run-2")
        assert resumed_run.input["messages"] == [], resumed_run.input


# --- execution order ------------------------------------------------------------------------------


def run_spans(events: list[Any]) -> list[tuple[str, str, str]]:
    """(runId of RUN_STARTED, terminal type, runId of the terminal) per run, checking that no
    run starts before the previous one ended."""
    spans: list[tuple[str, str, str]] = []
    current: str | None = None
    for event in events:
        if event.event == "RUN_STARTED":
            assert current is None, f"run {event.data['runId']} started inside run {current}"
            current = event.data["runId"]
        elif event.event in TERMINAL:
            assert current is not None, f"{event.event} outside any run"
            spans.append((current, event.event, event.data.get("runId", "")))
            current = None
        else:
            assert current is not None, f"{event.event} outside any run"
    return spans


async def test_runs_of_a_thread_execute_one_at_a_time_in_acceptance_order(
    app: Any, api: Api, alice: Account, chat_model: ScriptedModel
) -> None:
    chat_model.delay_s = 0.02
    for n in range(4):
        chat_model.add_turn(*text_turn(f"answer {n} ", "in ", "parts"))
    thread_id = new_thread()
    run_ids = [f"run-{n}-{uuid.uuid4().hex[:6]}" for n in range(4)]
    async with live_server(app) as ws_url:
        for run_id in run_ids:
            await start_run(api, alice, run_input(thread_id, run_id, f"question {run_id}"))
        read = await read_sse(
            events_url(http_base(ws_url), thread_id),
            alice.auth,
            until=runs_done(4),
            timeout_s=10,
        )
    assert read.status == 200, read.raw
    spans = run_spans(read.events)
    assert spans == [(run_id, "RUN_FINISHED", run_id) for run_id in run_ids], spans
    # Each run answered after seeing every earlier run's messages.
    texts = [[m.content for m in r.messages if m.role == "user"] for r in chat_model.requests]
    assert texts == [[f"question {r}" for r in run_ids[: n + 1]] for n in range(4)]
    statuses = (
        await AgentRun.filter(thread_id=thread_id).order_by("id").values_list("run_id", "status")
    )
    assert statuses == [(run_id, "finished") for run_id in run_ids]


async def test_runs_of_different_threads_proceed_concurrently(
    api: Api, alice: Account, bob: Account, chat_model: ScriptedModel
) -> None:
    started: list[str] = []
    gate = asyncio.Event()
    original = chat_model.stream

    async def stream(request: Any) -> Any:
        started.append(request.messages[-1].content)
        if len(started) == 2:
            gate.set()
        # Each run waits for the other thread's run to reach the model.
        await asyncio.wait_for(gate.wait(), 5)
        async for chunk in original(request):
            yield chunk

    chat_model.stream = stream  # type: ignore[method-assign]
    threads = [new_thread(), new_thread()]
    await start_run(api, alice, run_input(threads[0], "run-1", "first"))
    await start_run(api, bob, run_input(threads[1], "run-1", "second"))
    for thread_id in threads:
        await wait_idle(thread_id)
    assert sorted(started) == ["first", "second"]
    # tortoise's stub types every values_list as tuples, flat=True included
    rows: list[str] = await AgentRun.all().values_list("status", flat=True)  # type: ignore[assignment]
    assert rows == ["finished", "finished"]


# --- the caller's threads -------------------------------------------------------------------------


async def test_agent_threads_lists_the_callers_threads_most_recent_first(
    api: Api, alice: Account, bob: Account
) -> None:
    first, second, third = new_thread(), new_thread(), new_thread()
    for thread_id in (first, second, third):
        await start_run(api, alice, run_input(thread_id, "run-1", "hello"))
        await wait_idle(thread_id)
    bobs = new_thread()
    await start_run(api, bob, run_input(bobs, "run-1", "hello"))
    await wait_idle(bobs)
    # Activity on the oldest thread makes it the most recent.
    await start_run(api, alice, run_input(first, "run-2", "again"))
    await wait_idle(first)

    body = await api.gql(THREADS, token=alice.access_token)
    assert "errors" not in body, body
    listed = body["data"]["agentThreads"]
    assert [t["id"] for t in listed] == [first, third, second]
    stamps = [instant(t["lastActiveAt"]) for t in listed]
    assert stamps == sorted(stamps, reverse=True), stamps
    rows = {str(t.id): t.last_active_at for t in await AgentThread.filter(owner_id=alice.id)}
    assert [rows[t] for t in (first, third, second)] == sorted(rows.values(), reverse=True)

    body = await api.gql(THREADS, token=bob.access_token)
    assert [t["id"] for t in body["data"]["agentThreads"]] == [bobs]
    carol = await api.quick_user("carol")
    assert (await api.gql(THREADS, token=carol.access_token))["data"]["agentThreads"] == []


# --- parity ---------------------------------------------------------------------------------------

REST_STATUS = {"BAD_USER_INPUT": 422, "FORBIDDEN": 403, "UNAUTHENTICATED": 401}


async def test_both_doors_answer_the_same_error_class(
    api: Api, alice: Account, bob: Account
) -> None:
    thread_id, _ = await owned_thread_of(api, alice)
    Rest = Callable[[], Awaitable[httpx.Response]]
    Gql = Callable[[], Awaitable[dict[str, Any]]]
    cases: list[tuple[str, Rest, Gql]] = []
    for name, body in _bad_bodies(new_thread()).items():
        cases.append(
            (
                name,
                partial(rest_start, api, alice, body),
                partial(gql_start, api, alice, body),
            )
        )
    mismatch = run_input(new_thread(), "run-2")
    cases += [
        (
            "resume-thread-mismatch",
            lambda: rest_resume(api, alice, thread_id, mismatch),
            lambda: gql_resume(api, alice, thread_id, mismatch),
        ),
        (
            "foreign-start",
            lambda: rest_start(api, bob, run_input(thread_id, "run-2")),
            lambda: gql_start(api, bob, run_input(thread_id, "run-2")),
        ),
        (
            "foreign-resume",
            lambda: rest_resume(api, bob, thread_id, run_input(thread_id, "run-2")),
            lambda: gql_resume(api, bob, thread_id, run_input(thread_id, "run-2")),
        ),
        (
            "anonymous-start",
            lambda: rest_start(api, None, run_input(thread_id, "run-2")),
            lambda: gql_start(api, None, run_input(thread_id, "run-2")),
        ),
    ]
    mismatches = []
    for name, rest, gql in cases:
        response, body = await rest(), await gql()
        code = gql_code(body)
        if code not in REST_STATUS or REST_STATUS[code] != response.status_code:
            mismatches.append((name, response.status_code, code))
        else:
            problem(response, response.status_code)
    assert mismatches == [], mismatches
    assert await AgentRun.all().count() == 1
