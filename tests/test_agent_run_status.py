"""Run status records (issue 13): every state a run goes through, as REST and GraphQL show it;
the newest-first listing with its opaque cursor; 403 / 404 / 422."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent_runtime.chat_model import ModelChunk, ModelError, ModelRequest
from agent_runtime.tool_specs import CREATE_SCHEDULE_ITEM
from tests.support.agent import ScriptedModel, new_thread, run_input, start_run, tool_turn
from tests.support.client import Account, Api, gql_code

LUNCH = {"title": "Lunch with Ann", "startAt": "2030-01-02T12:00:00+00:00"}
RUN_FIELDS = "threadId runId status createdAt startedAt finishedAt error usage cancelRequestedAt"
AGENT_RUN = f"""query($threadId: ID!, $runId: String!) {{
  agentRun(threadId: $threadId, runId: $runId) {{ {RUN_FIELDS} }}
}}"""
THREAD_RUNS = f"""query($limit: Int, $cursor: String) {{
  agentThreads {{
    id
    runs(limit: $limit, cursor: $cursor) {{ runs {{ {RUN_FIELDS} }} nextCursor }}
  }}
}}"""
KEYS = {
    "threadId",
    "runId",
    "status",
    "createdAt",
    "startedAt",
    "finishedAt",
    "error",
    "usage",
    "cancelRequestedAt",
}


class GatedModel(ScriptedModel):
    """Waits for `gate` before each turn; a turn scripted as None fails with ModelError."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.fail_next = False

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ModelError("The model is unreachable.")
        async for chunk in super().stream(request):
            yield chunk


@pytest.fixture
def chat_model() -> GatedModel:
    return GatedModel()


async def rest_run(api: Api, account: Account, thread_id: str, run_id: str) -> dict[str, Any]:
    r = await api.rest("GET", f"/agent/runs/{thread_id}/runs/{run_id}", account.access_token)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def until_status(api: Api, account: Account, thread_id: str, run_id: str, want: str) -> Any:
    async with asyncio.timeout(10):
        while True:
            body = await rest_run(api, account, thread_id, run_id)
            if body["status"] == want:
                return body
            await asyncio.sleep(0.01)


async def test_a_run_moves_through_every_state(
    api: Api, alice: Account, chat_model: GatedModel
) -> None:
    thread_id = new_thread()
    # r1 waits at the model's gate (running) while r2 waits behind it (queued).
    await start_run(api, alice, run_input(thread_id, "r1", "hello"))
    running = await until_status(api, alice, thread_id, "r1", "running")
    assert set(running) == KEYS
    assert running["startedAt"] is not None and running["finishedAt"] is None
    await start_run(api, alice, run_input(thread_id, "r2", "again"))
    queued = await rest_run(api, alice, thread_id, "r2")
    assert queued["status"] == "queued" and queued["startedAt"] is None
    chat_model.gate.set()
    finished = await until_status(api, alice, thread_id, "r1", "finished")
    assert finished["finishedAt"] is not None and finished["error"] is None
    assert finished["usage"] is None  # the scripted model reports no usage
    await until_status(api, alice, thread_id, "r2", "finished")

    chat_model.fail_next = True
    await start_run(api, alice, run_input(thread_id, "r3", "fail please"))
    failed = await until_status(api, alice, thread_id, "r3", "error")
    assert failed["error"] == "MODEL_ERROR"

    chat_model.add_turn(*tool_turn(CREATE_SCHEDULE_ITEM, LUNCH, "call_lunch"))
    await start_run(api, alice, run_input(thread_id, "r4", "lunch with Ann"))
    await until_status(api, alice, thread_id, "r4", "interrupted")
    r = await api.rest(
        "POST", f"/agent/runs/{thread_id}/cancel", alice.access_token, json={"runId": "r4"}
    )
    assert r.json() == {"cancelled": ["r4"]}
    cancelled = await until_status(api, alice, thread_id, "r4", "cancelled")
    assert cancelled["cancelRequestedAt"] is not None

    # GraphQL tells the same.
    body = await api.gql(AGENT_RUN, {"threadId": thread_id, "runId": "r3"}, alice.access_token)
    assert body["data"]["agentRun"]["status"] == "error"
    assert body["data"]["agentRun"]["error"] == "MODEL_ERROR"


async def test_runs_are_listed_newest_first_a_page_at_a_time(
    api: Api, alice: Account, chat_model: GatedModel
) -> None:
    chat_model.gate.set()
    thread_id = new_thread()
    for n in range(5):
        await start_run(api, alice, run_input(thread_id, f"r{n}", f"message {n}"))
    await until_status(api, alice, thread_id, "r4", "finished")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await api.rest(
            "GET", f"/agent/runs/{thread_id}/runs", alice.access_token, params=params
        )
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"runs", "nextCursor"}
        seen += [run["runId"] for run in page["runs"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["r4", "r3", "r2", "r1", "r0"] and pages == 3

    first = await api.gql(THREAD_RUNS, {"limit": 3}, alice.access_token)
    [thread] = first["data"]["agentThreads"]
    assert [run["runId"] for run in thread["runs"]["runs"]] == ["r4", "r3", "r2"]
    rest = await api.gql(
        THREAD_RUNS, {"limit": 3, "cursor": thread["runs"]["nextCursor"]}, alice.access_token
    )
    [thread] = rest["data"]["agentThreads"]
    assert [run["runId"] for run in thread["runs"]["runs"]] == ["r1", "r0"]
    assert thread["runs"]["nextCursor"] is None


async def test_status_routes_check_the_thread_the_run_and_the_query(
    api: Api, alice: Account, bob: Account, chat_model: GatedModel
) -> None:
    chat_model.gate.set()
    thread_id = new_thread()
    await start_run(api, alice, run_input(thread_id, "r1", "hello"))
    base = f"/agent/runs/{thread_id}/runs"
    assert (await api.rest("GET", base, bob.access_token)).status_code == 403
    assert (await api.rest("GET", f"{base}/r1", bob.access_token)).status_code == 403
    assert (await api.rest("GET", f"{base}/nope", alice.access_token)).status_code == 404
    unknown = f"/agent/runs/{new_thread()}/runs"
    assert (await api.rest("GET", unknown, alice.access_token)).status_code == 404
    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "!!"}):
        r = await api.rest("GET", base, alice.access_token, params=params)
        assert r.status_code == 422, (params, r.text)
    assert (await api.rest("GET", base)).status_code == 401
    other = await api.gql(AGENT_RUN, {"threadId": thread_id, "runId": "r1"}, bob.access_token)
    assert gql_code(other) == "FORBIDDEN"
    missing = await api.gql(AGENT_RUN, {"threadId": thread_id, "runId": "x"}, alice.access_token)
    assert gql_code(missing) == "NOT_FOUND"
