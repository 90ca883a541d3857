"""Thread history by UTC day (docs/contract.md §5): `GET /agent/runs/{thread_id}/history`, `GET
/agent/history` and GraphQL `agentHistory` / `agentThreads` — the source's STATE_SNAPSHOT
envelope, AG-UI messages, `before` (strictly before), `hasMore`, the most recently active thread,
the `cursor` that continues on the thread's SSE stream, and who may read what."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from ag_ui.core import Message
from pydantic import TypeAdapter

from models import AgentMessage
from tests.support.agent import (
    ScriptedModel,
    SseEvent,
    events_url,
    http_base,
    read_sse,
    run_input,
    runs_done,
    text_turn,
    tool_turn,
)
from tests.support.client import Account, Api, gql_code
from tests.support.live_server import live_server

MESSAGES = TypeAdapter(list[Message])

HISTORY_GQL = """
query($threadId: ID, $before: Date) {
  agentHistory(threadId: $threadId, before: $before) { threadId day hasMore messages cursor }
}"""
THREADS_GQL = "{ agentThreads { id lastActiveAt } }"


@pytest.fixture
def chat_model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as ws_url:
        yield http_base(ws_url)


def id_key(stream_id: str) -> tuple[int, int]:
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)


async def run_once(
    api: Api, account: Account, base: str, thread_id: str, text: str, after: str | None = None
) -> list[SseEvent]:
    """Start a run and read its events (after `after`) from the thread's SSE stream."""
    body = run_input(thread_id, text=text)
    r = await api.rest("POST", "/agent/runs", account.access_token, json=body)
    assert r.status_code == 202, r.text
    headers = dict(account.auth)
    if after is not None:
        headers["Last-Event-ID"] = after
    read = await read_sse(events_url(base, thread_id), headers, until=runs_done(1))
    assert read.status == 200, read.raw
    assert read.events[-1].event == "RUN_FINISHED", read.types()
    assert read.events[-1].data["runId"] == body["runId"]  # this run's end, not an earlier one
    return read.events


async def history(
    api: Api,
    account: Account,
    thread_id: str | None = None,
    before: str | None = None,
    *,
    route: str = "thread",
) -> dict[str, Any]:
    params = {"before": before} if before else {}
    if route == "thread":
        assert thread_id is not None
        r = await api.rest(
            "GET", f"/agent/runs/{thread_id}/history", account.access_token, params=params
        )
    else:
        if thread_id is not None:
            params["threadId"] = thread_id
        r = await api.rest("GET", "/agent/history", account.access_token, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["type"] == "STATE_SNAPSHOT"
    snapshot = body["snapshot"]
    assert snapshot["scope"] == "history_day"
    assert body["threadId"] == snapshot["threadId"]
    assert set(snapshot) >= {"threadId", "day", "hasMore", "messages", "cursor"}
    return body


async def settled_history(
    api: Api, account: Account, thread_id: str, run: list[SseEvent]
) -> dict[str, Any]:
    """The thread's history once it reflects the whole run (the worker stores the run's end
    just after streaming it): its cursor is then the run's last event. Until then the cursor
    may only be the id of an earlier event of the stream."""
    ids = [e.id for e in run]
    async with asyncio.timeout(5):
        while True:
            body = await history(api, account, thread_id)
            cursor = body["snapshot"]["cursor"]
            if cursor == ids[-1]:
                return body
            assert cursor is None or id_key(cursor) < id_key(ids[-1]), (cursor, ids)
            await asyncio.sleep(0.02)


async def gql_history(
    api: Api, account: Account, thread_id: str | None = None, before: str | None = None
) -> dict[str, Any]:
    body = await api.gql(
        HISTORY_GQL, {"threadId": thread_id, "before": before}, account.access_token
    )
    assert "errors" not in body, body
    day: dict[str, Any] = body["data"]["agentHistory"]
    return day


def same_as_rest(gql: dict[str, Any], rest: dict[str, Any]) -> bool:
    snapshot = rest["snapshot"]
    return gql == {k: snapshot[k] for k in ("threadId", "day", "hasMore", "messages", "cursor")}


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("content", "") for m in messages]


def at(day: date, hour: int = 12, minute: int = 0, second: int = 0, tz: Any = UTC) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=tz)


async def insert(thread_id: str, role: str, text: str, when: datetime) -> None:
    message_id = f"old-{uuid.uuid4().hex[:10]}"
    await AgentMessage.create(
        thread_id=uuid.UUID(thread_id),
        message_id=message_id,
        role=role,
        body={"id": message_id, "role": role, "content": text},
        created_at=when,
    )


async def test_history_by_day_with_before_has_more_and_cursor(
    api: Api, alice: Account, base: str, chat_model: ScriptedModel
) -> None:
    chat_model.add_turn(*tool_turn("list_friends", {}, "call_friends"))
    chat_model.add_turn(*text_turn("You have ", "no friends yet."))
    thread = str(uuid.uuid4())
    first = await run_once(api, alice, base, thread, "who are my friends?")
    today = datetime.now(UTC).date()

    body = await settled_history(api, alice, thread, first)
    snapshot = body["snapshot"]
    assert body["threadId"] == thread
    assert snapshot["day"] == today.isoformat()
    assert snapshot["hasMore"] is False
    # AG-UI messages: the user's, the assistant's tool call, the tool result, the answer.
    messages = snapshot["messages"]
    parsed = MESSAGES.validate_python(messages)
    assert [m.model_dump(by_alias=True, exclude_none=True, mode="json") for m in parsed] == messages
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[0]["content"] == "who are my friends?"
    call = messages[1]["toolCalls"][0]
    assert call["id"] == "call_friends" and call["type"] == "function"
    assert call["function"]["name"] == "list_friends"
    assert messages[2]["toolCallId"] == "call_friends" and '"ok"' in messages[2]["content"]
    assert messages[3]["content"] == "You have no friends yet."
    # The cursor is the newest event reflected: the run's last event.
    assert snapshot["cursor"] == first[-1].id
    assert body == await history(api, alice, thread, route="any")
    assert same_as_rest(await gql_history(api, alice, thread), body)

    # Reading on from the cursor gives only newer events: the next run, from its RUN_STARTED.
    chat_model.add_turn(*text_turn("Hello again."))
    second = await run_once(api, alice, base, thread, "hi", after=snapshot["cursor"])
    assert second[0].event == "RUN_STARTED"
    assert all(id_key(e.id) > id_key(snapshot["cursor"]) for e in second)
    assert "who are my friends?" not in str([e.data for e in second])
    body = await settled_history(api, alice, thread, second)
    assert texts(body["snapshot"]["messages"])[-2:] == ["hi", "Hello again."]

    # Older days, by UTC calendar day.
    d2, d3, d6 = (today - timedelta(days=n) for n in (2, 3, 6))
    await insert(thread, "user", "three days ago, morning", at(d3, 2))
    # 05:00 in Shanghai on d2 is 21:00 UTC on d3.
    await insert(thread, "assistant", "d3 in UTC", at(d2, 5, tz=timezone(timedelta(hours=8))))
    await insert(thread, "user", "three days ago, last second", at(d3, 23, 59, 59))
    await insert(thread, "user", "two days ago, first second", at(d2, 0))
    await insert(thread, "user", "six days ago", at(d6, 9))

    expected = {
        None: (today, 6, True),
        (today + timedelta(days=1)).isoformat(): (today, 6, True),
        today.isoformat(): (d2, 1, True),
        (today - timedelta(days=1)).isoformat(): (d2, 1, True),
        d2.isoformat(): (d3, 3, True),
        d3.isoformat(): (d6, 1, False),
    }
    for before, (day, count, has_more) in expected.items():
        for route in ("thread", "any"):
            snapshot = (await history(api, alice, thread, before, route=route))["snapshot"]
            assert (snapshot["day"], len(snapshot["messages"]), snapshot["hasMore"]) == (
                day.isoformat(),
                count,
                has_more,
            ), (before, route, snapshot)
            assert snapshot["threadId"] == thread
            assert snapshot["cursor"] == second[-1].id
    assert texts((await history(api, alice, thread, d2.isoformat()))["snapshot"]["messages"]) == [
        "three days ago, morning",
        "d3 in UTC",
        "three days ago, last second",
    ]
    assert texts(
        (await history(api, alice, thread, today.isoformat()))["snapshot"]["messages"]
    ) == ["two days ago, first second"]
    # Nothing before the oldest day.
    snapshot = (await history(api, alice, thread, d6.isoformat()))["snapshot"]
    assert snapshot["day"] is None and snapshot["messages"] == []
    assert snapshot["hasMore"] is False and snapshot["threadId"] == thread

    for before in (None, today.isoformat(), d2.isoformat(), d6.isoformat()):
        rest = await history(api, alice, thread, before)
        assert same_as_rest(await gql_history(api, alice, thread, before), rest), before


async def test_default_thread_is_the_most_recently_active(
    api: Api, alice: Account, base: str
) -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    ran = await run_once(api, alice, base, one, "first thread")
    second = await run_once(api, alice, base, two, "second thread")
    await settled_history(api, alice, two, second)
    body = await history(api, alice, route="any")
    assert body["threadId"] == two
    assert texts(body["snapshot"]["messages"])[0] == "second thread"
    threads = (await api.gql(THREADS_GQL, token=alice.access_token))["data"]["agentThreads"]
    assert [t["id"] for t in threads] == [two, one]
    assert same_as_rest(await gql_history(api, alice), body)

    third = await run_once(api, alice, base, one, "back to the first", after=ran[-1].id)
    await settled_history(api, alice, one, third)
    body = await history(api, alice, route="any")
    assert body["threadId"] == one
    assert texts(body["snapshot"]["messages"])[-2] == "back to the first"
    threads = (await api.gql(THREADS_GQL, token=alice.access_token))["data"]["agentThreads"]
    assert [t["id"] for t in threads] == [one, two]
    assert threads[0]["lastActiveAt"] >= threads[1]["lastActiveAt"]
    assert same_as_rest(await gql_history(api, alice), body)


async def test_no_thread_at_all(api: Api, alice: Account) -> None:
    body = await history(api, alice, route="any")
    assert body["threadId"] is None
    snapshot = body["snapshot"]
    assert snapshot["threadId"] is None and snapshot["day"] is None
    assert snapshot["messages"] == [] and snapshot["hasMore"] is False
    assert snapshot["cursor"] is None
    assert same_as_rest(await gql_history(api, alice), body)
    assert (await api.gql(THREADS_GQL, token=alice.access_token))["data"]["agentThreads"] == []


async def test_only_the_owner_reads_a_thread_and_bad_input_is_422(
    api: Api, alice: Account, bob: Account, base: str
) -> None:
    thread = str(uuid.uuid4())
    await run_once(api, alice, base, thread, "private")
    r = await api.rest("GET", f"/agent/runs/{thread}/history", bob.access_token)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.rest("GET", "/agent/history", bob.access_token, params={"threadId": thread})
    assert r.status_code == 403, r.text
    body = await api.gql(HISTORY_GQL, {"threadId": thread}, bob.access_token)
    assert gql_code(body) == "FORBIDDEN", body
    assert "private" not in str(body)
    # Bob's own default is not Alice's thread.
    assert (await history(api, bob, route="any"))["threadId"] is None
    threads = (await api.gql(THREADS_GQL, token=bob.access_token))["data"]["agentThreads"]
    assert threads == []

    for bad in ("yesterday", "2026-02-30", "20260101", "2026-1-1"):
        r = await api.rest(
            "GET", f"/agent/runs/{thread}/history", alice.access_token, params={"before": bad}
        )
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await api.rest("GET", "/agent/history", alice.access_token, params={"before": bad})
        assert r.status_code == 422, (bad, r.text)
    r = await api.rest("GET", "/agent/history", alice.access_token, params={"threadId": "nope"})
    assert r.status_code == 422, r.text
    body = await api.gql(
        HISTORY_GQL, {"threadId": thread, "before": "yesterday"}, alice.access_token
    )
    assert body.get("errors"), body
    r = await api.rest("GET", f"/agent/runs/{thread}/history")
    assert r.status_code == 401, r.text
