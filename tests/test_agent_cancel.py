"""Cancelling agent runs (issue 13): a running run mid-text and mid-tool, a queued run, a run
waiting for approval, everything of a thread; repeated cancels; 403 / 404; REST and GraphQL.

The model pauses far longer than any test waits, so a cancel that did not close the model's
stream shows as a read that times out, not as a slow test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from agent_runtime import server_tools
from agent_runtime.chat_model import ModelChunk, ModelRequest, TextDelta
from agent_runtime.tool_specs import CREATE_SCHEDULE_ITEM, LIST_SCHEDULE_ITEMS
from models import AgentMessage, AgentRun, AgentThread
from tests.support.agent import (
    ScriptedModel,
    SseEvent,
    events_url,
    http_base,
    new_thread,
    read_sse,
    run_input,
    start_run,
    tool_turn,
)
from tests.support.agui_node import verify_stream
from tests.support.backend import detect
from tests.support.client import API, Account, Api, gql_code
from tests.support.live_server import live_server
from tests.support.multiprocess import sign_up
from tests.support.node_clients import node_script, of_type, require_node
from tests.test_agent_workers import deployment, post_run, run_statuses, running_worker
from tests.test_agent_workers import events_url as worker_events_url

CANCEL = """mutation($threadId: ID!, $runId: String) {
  cancelAgentRun(threadId: $threadId, runId: $runId)
}"""
LUNCH = {"title": "Lunch with Ann", "startAt": "2030-01-02T12:00:00+00:00"}
CANCELLED = {"type": "cancelled"}


class StallingModel(ScriptedModel):
    """Plays its script, then stalls (mid-text) before its `stall_after`-th text chunk."""

    def __init__(self) -> None:
        super().__init__()
        self.stall_after: int | None = None
        self.closed = asyncio.Event()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        if self.stall_after is None:
            async for chunk in super().stream(request):
                yield chunk
            return
        self.requests.append(request)
        try:
            for n in range(self.stall_after):
                yield TextDelta(f"piece {n} ")
            await asyncio.sleep(60)
            yield TextDelta("never")
        finally:
            self.closed.set()


@pytest.fixture
def chat_model() -> StallingModel:
    return StallingModel()


async def wait_status(thread_id: str, run_id: str, *wanted: str) -> str:
    async with asyncio.timeout(10):
        while True:
            row = await AgentRun.get_or_none(thread_id=thread_id, run_id=run_id)
            if row is not None and row.status in wanted:
                return row.status
            await asyncio.sleep(0.01)


async def cancel(
    api: Api, account: Account, thread_id: str, run_id: str | None = None
) -> httpx.Response:
    body = {"runId": run_id} if run_id is not None else None
    return await api.rest(
        "POST", f"/agent/runs/{thread_id}/cancel", account.access_token, json=body
    )


def saw(kind: str) -> Callable[[list[SseEvent]], bool]:
    return lambda events: any(e.event == kind for e in events)


def run_of(events: list[SseEvent], run_id: str) -> list[SseEvent]:
    """The events from `run_id`'s last RUN_STARTED to its end."""
    starts = [
        i for i, e in enumerate(events) if e.event == "RUN_STARTED" and e.data["runId"] == run_id
    ]
    assert starts, [e.event for e in events]
    return events[starts[-1] :]


async def assert_verified(events: list[SseEvent]) -> None:
    """`@ag-ui/client`'s verifyEvents accepts the thread's runs, cancelled ones included."""
    require_node()
    report = await asyncio.to_thread(verify_stream, [e.data for e in events])
    assert report["ok"], report


def assert_valid_cancelled(events: list[SseEvent]) -> None:
    """Starts, closes every message, call and step it opened, ends cancelled."""
    assert events[0].event == "RUN_STARTED"
    assert events[-1].event == "RUN_FINISHED", [e.event for e in events]
    assert events[-1].data["outcome"] == CANCELLED
    opened: dict[str, set[str]] = {"TEXT_MESSAGE": set(), "TOOL_CALL": set(), "STEP": set()}
    for e in events:
        key = {
            "TEXT_MESSAGE": e.data.get("messageId"),
            "TOOL_CALL": e.data.get("toolCallId"),
            "STEP": e.data.get("stepName"),
        }
        for kind in opened:
            if e.event in (f"{kind}_START", f"{kind}_STARTED"):
                opened[kind].add(str(key[kind]))
            elif e.event in (f"{kind}_END", f"{kind}_FINISHED"):
                opened[kind].discard(str(key[kind]))
    assert opened == {"TEXT_MESSAGE": set(), "TOOL_CALL": set(), "STEP": set()}


async def test_a_running_run_is_cancelled_mid_text(
    app: Any, api: Api, alice: Account, chat_model: StallingModel
) -> None:
    chat_model.stall_after = 2
    thread_id = new_thread()
    async with live_server(app) as ws_url:
        url = events_url(http_base(ws_url), thread_id)
        await start_run(api, alice, run_input(thread_id, "r1", "tell me a long story"))
        await read_sse(
            url,
            alice.auth,
            until=lambda es: sum(e.event == "TEXT_MESSAGE_CONTENT" for e in es) == 2,
            timeout_s=10,
        )
        r = await cancel(api, alice, thread_id, "r1")
        assert r.status_code == 202, r.text
        assert r.json() == {"cancelled": ["r1"]}
        read = await read_sse(url, alice.auth, timeout_s=5)
    events = run_of(read.events, "r1")
    assert_valid_cancelled(events)
    await assert_verified(read.events)
    assert chat_model.closed.is_set()  # the model's stream was closed, not left running
    assert await wait_status(thread_id, "r1", "cancelled") == "cancelled"
    # The text the user saw is kept, whole messages only.
    bodies = [m.body for m in await AgentMessage.filter(thread_id=thread_id).order_by("id")]
    assert [b["role"] for b in bodies] == ["user", "assistant"]
    assert bodies[1]["content"] == "piece 0 piece 1 "
    # A repeated cancel changes nothing and lists nothing.
    again = await cancel(api, alice, thread_id, "r1")
    assert (again.status_code, again.json()) == (202, {"cancelled": []})
    row = await AgentRun.get(thread_id=thread_id, run_id="r1")
    assert row.started_at is not None and row.finished_at is not None
    assert row.cancel_requested_at is not None and row.error is None


@pytest.mark.parametrize("settings_overrides", [{"agent_run_lease_s": 0.9}], indirect=True)
async def test_a_cancel_whose_announcement_is_lost_is_seen_at_the_lease_renewal(
    app: Any,
    api: Api,
    alice: Account,
    chat_model: StallingModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bus message is lost (Redis pub/sub keeps nothing for a subscriber that was away):
    # the row's cancel_requested_at still stops the run, within a third of the lease.
    events = app.state.services.events
    original = events.publish

    async def lossy(channel: str, message: dict[str, Any]) -> None:
        if not channel.startswith("agent-cancel:"):
            await original(channel, message)

    monkeypatch.setattr(events, "publish", lossy)
    chat_model.stall_after = 1
    thread_id = new_thread()
    async with live_server(app) as ws_url:
        url = events_url(http_base(ws_url), thread_id)
        await start_run(api, alice, run_input(thread_id, "r1", "tell me a long story"))
        await read_sse(url, alice.auth, until=saw("TEXT_MESSAGE_CONTENT"))
        assert (await cancel(api, alice, thread_id, "r1")).json() == {"cancelled": ["r1"]}
        read = await read_sse(url, alice.auth, timeout_s=5)
    assert_valid_cancelled(run_of(read.events, "r1"))
    assert await wait_status(thread_id, "r1", "cancelled") == "cancelled"


async def test_a_running_tool_finishes_before_the_run_ends(
    app: Any,
    api: Api,
    alice: Account,
    chat_model: StallingModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A read-only call, which runs, and one that needs approval, which the cancel leaves unrun.
    chat_model.add_turn(
        *tool_turn(LIST_SCHEDULE_ITEMS, {}, "call_list"),
        *tool_turn(CREATE_SCHEDULE_ITEM, LUNCH, "call_lunch"),
    )
    entered, release = asyncio.Event(), asyncio.Event()
    original = server_tools.execute

    async def slow_execute(*args: Any) -> Any:
        entered.set()
        await release.wait()
        return await original(*args)

    monkeypatch.setattr(server_tools, "execute", slow_execute)
    thread_id = new_thread()
    async with live_server(app) as ws_url:
        url = events_url(http_base(ws_url), thread_id)
        await start_run(api, alice, run_input(thread_id, "r1", "what is on today?"))
        await asyncio.wait_for(entered.wait(), 10)
        body = await api.gql(CANCEL, {"threadId": thread_id, "runId": "r1"}, alice.access_token)
        assert body == {"data": {"cancelAgentRun": ["r1"]}}, body
        await asyncio.sleep(0.05)
        assert await wait_status(thread_id, "r1", "running") == "running"  # the tool runs on
        release.set()
        read = await read_sse(url, alice.auth, timeout_s=5)
    events = run_of(read.events, "r1")
    assert_valid_cancelled(events)
    await assert_verified(read.events)
    results = {
        e.data["toolCallId"]: orjson.loads(e.data["content"])
        for e in events
        if e.event == "TOOL_CALL_RESULT"
    }
    assert set(results) == {"call_list", "call_lunch"}
    assert "cancelled" not in results["call_list"]  # the tool's own, whole result
    assert results["call_lunch"]["cancelled"] is True  # never ran, never asked for approval
    assert len(chat_model.requests) == 1  # no model turn after the cancel
    tools = await AgentMessage.filter(thread_id=thread_id, role="tool").count()
    assert tools == 2  # every stored call has its result: the conversation stays valid
    thread = await AgentThread.get(id=thread_id)
    assert not thread.state.get("pendingApprovals")
    assert await wait_status(thread_id, "r1", "cancelled") == "cancelled"


async def test_a_queued_run_never_starts(
    app: Any, api: Api, alice: Account, chat_model: StallingModel
) -> None:
    chat_model.stall_after = 1
    thread_id = new_thread()
    async with live_server(app) as ws_url:
        url = events_url(http_base(ws_url), thread_id)
        await start_run(api, alice, run_input(thread_id, "r1", "first"))
        await start_run(api, alice, run_input(thread_id, "r2", "second"))
        await read_sse(
            url, alice.auth, until=lambda es: any(e.event == "TEXT_MESSAGE_CONTENT" for e in es)
        )
        r = await cancel(api, alice, thread_id, "r2")
        assert r.json() == {"cancelled": ["r2"]}
        queued = await AgentRun.get(thread_id=thread_id, run_id="r2")
        assert queued.status == "queued" and queued.cancel_requested_at is not None
        # Without a body: every queued or running run; r2 is still waiting for its turn.
        everything = await cancel(api, alice, thread_id)
        assert everything.json() == {"cancelled": ["r1", "r2"]}
        read = await read_sse(
            url,
            alice.auth,
            until=lambda es: sum(e.event == "RUN_FINISHED" for e in es) == 2,
            timeout_s=5,
        )
    assert_valid_cancelled(run_of(read.events, "r1"))
    second = run_of(read.events, "r2")
    assert [e.event for e in second] == ["RUN_STARTED", "RUN_FINISHED"]
    assert second[-1].data["outcome"] == CANCELLED
    await assert_verified(read.events)
    assert len(chat_model.requests) == 1  # r2 never reached the model
    assert await wait_status(thread_id, "r2", "cancelled") == "cancelled"
    row = await AgentRun.get(thread_id=thread_id, run_id="r2")
    assert row.started_at is None and row.finished_at is not None
    users = await AgentMessage.filter(thread_id=thread_id, role="user").count()
    assert users == 1  # r2's message was never taken in
    # The thread is not stuck: a new run executes.
    chat_model.stall_after = None
    await start_run(api, alice, run_input(thread_id, "r3", "third"))
    assert await wait_status(thread_id, "r3", "finished", "error") == "finished"


async def test_a_run_waiting_for_approval_is_cancelled(
    app: Any, api: Api, alice: Account, chat_model: StallingModel
) -> None:
    chat_model.add_turn(*tool_turn(CREATE_SCHEDULE_ITEM, LUNCH, "call_lunch"))
    thread_id = new_thread()
    async with live_server(app) as ws_url:
        url = events_url(http_base(ws_url), thread_id)
        await start_run(api, alice, run_input(thread_id, "r1", "lunch with Ann"))
        first = await read_sse(url, alice.auth)
        assert first.events[-1].data["outcome"]["type"] == "interrupt"
        assert await wait_status(thread_id, "r1", "interrupted") == "interrupted"
        body = await api.gql(CANCEL, {"threadId": thread_id, "runId": "r1"}, alice.access_token)
        assert body == {"data": {"cancelAgentRun": ["r1"]}}, body
        rest = await read_sse(url, {**alice.auth, "Last-Event-ID": first.events[-1].id})
    events = rest.events
    assert_valid_cancelled(events)
    assert [e.event for e in events] == [
        "RUN_STARTED",
        "TOOL_CALL_RESULT",
        "STATE_DELTA",
        "RUN_FINISHED",
    ]
    assert events[0].data["runId"] == "r1"
    await assert_verified(first.events + events)
    assert orjson.loads(events[1].data["content"])["cancelled"] is True
    assert events[2].data["delta"] == [{"op": "remove", "path": "/pendingApprovals/0"}]
    thread = await AgentThread.get(id=thread_id)
    assert thread.state["pendingApprovals"] == []
    assert await wait_status(thread_id, "r1", "cancelled") == "cancelled"
    again = await api.gql(CANCEL, {"threadId": thread_id, "runId": "r1"}, alice.access_token)
    assert again == {"data": {"cancelAgentRun": []}}
    # Its approval is no longer open: answering it is refused.
    late = run_input(
        thread_id,
        "r-late",
        resume=[
            {
                "interruptId": "approval-call_lunch",
                "status": "resolved",
                "payload": {"approved": True},
            }
        ],
    )
    answer = await api.rest(
        "POST", f"/agent/runs/{thread_id}/resume", alice.access_token, json=late
    )
    assert answer.status_code == 422, answer.text
    # The conversation goes on: the next run is a new run, not a resume.
    await start_run(api, alice, run_input(thread_id, "r2", "never mind"))
    assert await wait_status(thread_id, "r2", "finished", "error") == "finished"


async def test_cancel_checks_the_thread_and_the_run(api: Api, alice: Account, bob: Account) -> None:
    thread_id = new_thread()
    await start_run(api, alice, run_input(thread_id, "r1", "hello"))
    await wait_status(thread_id, "r1", "finished")
    assert (await cancel(api, bob, thread_id, "r1")).status_code == 403
    assert (await cancel(api, bob, thread_id)).status_code == 403
    assert (await cancel(api, alice, thread_id, "nope")).status_code == 404
    assert (await cancel(api, alice, new_thread(), "r1")).status_code == 404
    finished = await cancel(api, alice, thread_id, "r1")
    assert (finished.status_code, finished.json()) == (202, {"cancelled": []})
    assert [r.status for r in await AgentRun.filter(thread_id=thread_id)] == ["finished"]
    other = await api.gql(CANCEL, {"threadId": thread_id, "runId": "r1"}, bob.access_token)
    assert gql_code(other) == "FORBIDDEN"
    unknown = await api.gql(CANCEL, {"threadId": thread_id, "runId": "x"}, alice.access_token)
    assert gql_code(unknown) == "NOT_FOUND"


# --- POST /agent and a client that leaves ---------------------------------------------------------


async def http_agent_aborts(
    base: str, account: Account, thread_id: str, forwarded: dict[str, Any] | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "url": f"{base}{API}/agent",
        "token": account.access_token,
        "thread": thread_id,
        "run": "r1",
        "message": "talk to me",
        "abortOn": "TEXT_MESSAGE_CONTENT",
    }
    if forwarded is not None:
        payload["forwardedProps"] = forwarded
    async with node_script("http-agent-abort.mjs", payload) as script:
        await script.line("aborted")
        lines = await script.finish()
    (done,) = of_type(lines, "done")
    assert done["aborted"] is True and done["settled"] == "resolved", done
    return done


async def test_abort_run_cancels_a_run_that_asked_for_it(
    app: Any, alice: Account, chat_model: StallingModel
) -> None:
    require_node()
    chat_model.stall_after = 2
    thread_id = new_thread()
    async with live_server(app) as ws_url:
        base = http_base(ws_url)
        await http_agent_aborts(base, alice, thread_id, {"cancelOnDisconnect": True})
        read = await read_sse(events_url(base, thread_id), alice.auth, timeout_s=5)
    assert_valid_cancelled(run_of(read.events, "r1"))
    await assert_verified(read.events)
    assert await wait_status(thread_id, "r1", "cancelled") == "cancelled"


async def test_abort_run_leaves_other_runs_going(
    app: Any, alice: Account, chat_model: StallingModel
) -> None:
    require_node()
    chat_model.delay_s = 0.1
    chat_model.add_turn(*[TextDelta(f"word{n} ") for n in range(8)])
    thread_id = new_thread()
    async with live_server(app) as ws_url:
        base = http_base(ws_url)
        await http_agent_aborts(base, alice, thread_id, {"cancelOnDisconnect": False})
        # A later subscriber sees the whole run, to its ordinary end.
        read = await read_sse(events_url(base, thread_id), alice.auth, timeout_s=5)
    finished = read.events[-1]
    assert finished.event == "RUN_FINISHED", finished
    assert finished.data["outcome"] == {"type": "success"}
    text = "".join(e.data["delta"] for e in read.events if e.event == "TEXT_MESSAGE_CONTENT")
    assert text == "".join(f"word{n} " for n in range(8))
    assert await wait_status(thread_id, "r1", "finished") == "finished"


# --- a worker process over Redis ------------------------------------------------------------------


@pytest.mark.skipif(not detect().real, reason="needs a worker process sharing PostgreSQL and Redis")
async def test_a_run_on_a_worker_process_is_cancelled_mid_text_and_mid_tool(
    tmp_path: Path,
) -> None:
    # Each chunk of the (offline) model comes 6 s after the last, longer than the reads below
    # wait: only a cancel that closes the model's stream ends the runs in time.
    async with deployment(tmp_path, AGENT_MODEL_CHUNK_DELAY_S="6") as (server, env):
        with running_worker(tmp_path, env, "w"):
            ann = await sign_up(server, "ann")
            auth = {"Authorization": f"Bearer {ann['token']}"}
            cases = [
                (str(uuid.uuid4()), "hello there", "TEXT_MESSAGE_CONTENT"),
                (str(uuid.uuid4()), "what is on my schedule today?", "TOOL_CALL_START"),
            ]
            for thread_id, text, _ in cases:
                await post_run(server, ann["token"], run_input(thread_id, "r1", text))
            for thread_id, _, mid in cases:
                url = worker_events_url(server, thread_id)
                first = await read_sse(url, auth, until=saw(mid), timeout_s=30)
                async with httpx.AsyncClient(timeout=10) as client:
                    asked = time.monotonic()
                    r = await client.post(
                        f"{server.base_url}/api/v1/agent/runs/{thread_id}/cancel",
                        json={"runId": "r1"},
                        headers=auth,
                    )
                assert (r.status_code, r.json()) == (202, {"cancelled": ["r1"]}), r.text
                rest = await read_sse(
                    url, {**auth, "Last-Event-ID": first.events[-1].id}, timeout_s=5
                )
                print(f"{mid}: cancel to RUN_FINISHED {time.monotonic() - asked:.3f} s")
                events = first.events + rest.events
                assert_valid_cancelled(events)
                await assert_verified(events)
            assert await run_statuses(env["DATABASE_URL"]) == ["cancelled", "cancelled"]
