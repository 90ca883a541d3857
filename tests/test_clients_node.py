"""Stock JavaScript clients against the server on a real port: graphql-ws `createClient`,
Apollo Client's split link (HttpLink + GraphQLWsLink), subscriptions-transport-ws on the legacy
protocol, the npm `eventsource` package on a thread's SSE stream (including its own reconnect
with Last-Event-ID) and `@ag-ui/client`'s HttpAgent aborting a run mid-stream.

The clients run as Node scripts (tests/support/node_clients.py); the test causes the events they
wait for through REST once a script says it is connected. Every websocket frame the server sends
is counted at the ASGI boundary and must be a text frame.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from resolvers.events import inbox_channel, item_channel
from tests.support.agent import (
    ScriptedModel,
    events_url,
    http_base,
    read_sse,
    run_input,
    text_turn,
)
from tests.support.agui_node import verify_stream
from tests.support.client import API, Account, Api
from tests.support.live_server import listening, live_server
from tests.support.node_clients import ErrorLog, Line, node_script, of_type, require_node
from tests.support.ws_frames import FrameLog

USER = "{ id username }"
INBOX_SUBSCRIPTION = (
    f"subscription {{ inboxMessages {{ id messageType status content sender {USER} "
    f"recipient {USER} }} }}"
)
ITEM_SUBSCRIPTION = (
    "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind item { id title } } }"
)
ME = "query { me { id username email } }"
CREATE = (
    "mutation($input: CreateScheduleItemInput!) "
    "{ createScheduleItem(input: $input) { id title startAt } }"
)
# Chunks of the scripted model's answer, each after DELAY_S: long enough for a client to act
# while the run is still streaming.
WORDS = [f"word{n} " for n in range(12)]
DELAY_S = 0.25


@pytest.fixture(autouse=True)
def _node() -> None:
    require_node()


@pytest.fixture
def chat_model() -> ScriptedModel:
    return ScriptedModel(delay_s=DELAY_S)


@dataclass
class Served:
    ws_url: str
    frames: FrameLog

    @property
    def base(self) -> str:
        return http_base(self.ws_url)

    @property
    def graphql(self) -> str:
        return f"{self.base}/graphql"


@pytest.fixture
async def served(app: Any) -> AsyncIterator[Served]:
    frames = FrameLog()
    async with live_server(frames.wrap(app)) as ws_url:
        yield Served(ws_url, frames)


async def send_friend_request(api: Api, sender: Account, to: Account) -> str:
    body = {"target_user_id": to.id, "content": "hi from REST"}
    r = await api.rest("POST", "/friends/requests", sender.access_token, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def results(lines: list[Line]) -> list[dict[str, Any]]:
    values = [line["value"] for line in of_type(lines, "next")]
    for value in values:
        assert not value.get("errors") and not value.get("error"), value
    return [value["data"] for value in values]


async def test_graphql_ws_client_receives_an_inbox_message(
    api: Api, app: Any, served: Served
) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    payload = {"url": served.ws_url, "token": ann.access_token, "query": INBOX_SUBSCRIPTION}
    async with node_script("graphql-ws-subscribe.mjs", payload) as script:
        await script.line("ready")
        await listening(app, inbox_channel(uuid.UUID(ann.id)))
        await send_friend_request(api, bob, ann)
        lines = await script.finish()

    (data,) = results(lines)
    message = data["inboxMessages"]
    assert message["messageType"] == "FRIEND_REQUEST" and message["status"] == "PENDING"
    assert message["sender"] == {"id": bob.id, "username": bob.username}
    assert message["recipient"] == {"id": ann.id, "username": ann.username}
    assert message["content"] == "hi from REST"
    assert of_type(lines, "done")[0]["ended"] == "count"
    served.frames.assert_all_text()


async def test_apollo_split_link_queries_mutates_and_subscribes(
    api: Api, app: Any, served: Served
) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    payload = {
        "httpUrl": served.graphql,
        "wsUrl": served.ws_url,
        "token": ann.access_token,
        "query": ME,
        "mutation": CREATE,
        "mutationVariables": {"input": {"title": "Apollo", "startAt": "2030-05-01T09:00:00Z"}},
        "subscription": INBOX_SUBSCRIPTION,
    }
    async with node_script("apollo-client.mjs", payload) as script:
        await script.line("ready")
        await listening(app, inbox_channel(uuid.UUID(ann.id)))
        await send_friend_request(api, bob, ann)
        lines = await script.finish()

    (query,) = of_type(lines, "query")
    assert query["data"]["me"]["id"] == ann.id
    assert query["data"]["me"]["email"] == ann.email
    (mutation,) = of_type(lines, "mutation")
    created = mutation["data"]["createScheduleItem"]
    assert created["title"] == "Apollo"
    # The mutation really happened: REST sees the item.
    r = await api.rest("GET", f"/schedule-items/{created['id']}", ann.access_token)
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Apollo"
    (data,) = results(lines)
    assert data["inboxMessages"]["sender"]["id"] == bob.id
    served.frames.assert_all_text()


async def test_subscriptions_transport_ws_client_follows_an_item_until_deleted(
    api: Api, app: Any, served: Served
) -> None:
    ann = await api.quick_user()
    r = await api.rest(
        "POST",
        "/schedule-items",
        ann.access_token,
        json={"title": "Legacy", "start_at": "2030-05-01T09:00:00Z"},
    )
    assert r.status_code == 201, r.text
    item_id = r.json()["id"]
    payload = {
        "url": served.ws_url,
        "token": ann.access_token,
        "query": ITEM_SUBSCRIPTION,
        "variables": {"id": item_id},
        "count": 3,  # more than will come: the script ends on the server's `complete`
    }
    async with node_script("subscriptions-transport-ws-subscribe.mjs", payload) as script:
        await script.line("ready")
        await listening(app, item_channel(uuid.UUID(item_id)))
        r = await api.rest(
            "PATCH", f"/schedule-items/{item_id}", ann.access_token, json={"title": "Renamed"}
        )
        assert r.status_code == 200, r.text
        await script.line("next")
        r = await api.rest("DELETE", f"/schedule-items/{item_id}", ann.access_token)
        assert r.status_code == 204, r.text
        lines = await script.finish()

    changes = [data["scheduleItemChanged"] for data in results(lines)]
    assert [change["kind"] for change in changes] == ["UPDATED", "DELETED"]
    assert changes[0]["item"] == {"id": item_id, "title": "Renamed"}
    assert of_type(lines, "done")[0]["ended"] == "complete"
    served.frames.assert_all_text()


# --- SSE with the npm eventsource package ------------------------------------------------------


async def start_run(api: Api, who: Account, thread_id: str, run_id: str) -> None:
    r = await api.rest(
        "POST", "/agent/runs", who.access_token, json=run_input(thread_id, run_id, "talk")
    )
    assert r.status_code == 202, r.text


async def stream_from_start(served: Served, who: Account, thread_id: str) -> list[tuple[str, str]]:
    """(id, type) of the thread's first run, read afresh by our own SSE reader."""
    read = await read_sse(events_url(served.base, thread_id), who.auth)
    assert read.status == 200, read.raw
    return [(event.id, event.event) for event in read.events]


def received(lines: list[Line]) -> list[tuple[str, str]]:
    return [(line["id"], line["event"]) for line in of_type(lines, "event")]


async def test_eventsource_reads_a_run_in_order(
    api: Api, served: Served, chat_model: ScriptedModel
) -> None:
    ann = await api.quick_user()
    thread_id = str(uuid.uuid4())
    chat_model.add_turn(*text_turn(*WORDS[:3]))
    payload = {"url": events_url(served.base, thread_id), "token": ann.access_token}
    async with node_script("eventsource-thread.mjs", payload) as script:
        await script.line("ready")
        await start_run(api, ann, thread_id, "run-es-1")
        lines = await script.finish()

    events = of_type(lines, "event")
    assert [line["event"] for line in events] == [line["data"]["type"] for line in events]
    assert events[0]["data"]["runId"] == "run-es-1"
    assert events[-1]["event"] == "RUN_FINISHED"
    assert "".join(e["data"]["delta"] for e in events if e["event"] == "TEXT_MESSAGE_CONTENT") == (
        "".join(WORDS[:3])
    )
    assert received(lines) == await stream_from_start(served, ann, thread_id)
    report = verify_stream([line["data"] for line in events])
    assert report["ok"], report
    assert [line["lastEventId"] for line in of_type(lines, "connect")] == [None]


async def test_eventsource_reconnects_after_a_drop_without_loss_or_repeat(
    api: Api, served: Served, chat_model: ScriptedModel
) -> None:
    ann = await api.quick_user()
    thread_id = str(uuid.uuid4())
    chat_model.add_turn(*text_turn(*WORDS))
    drop_after = 5  # mid-run: RUN_STARTED, snapshots, the first text events
    payload = {
        "url": events_url(served.base, thread_id),
        "token": ann.access_token,
        "dropAfter": drop_after,
    }
    async with node_script("eventsource-thread.mjs", payload) as script:
        await script.line("ready")
        await start_run(api, ann, thread_id, "run-es-2")
        await script.line("drop")
        lines = await script.finish(seconds=40)

    got = received(lines)
    first_connection = got[:drop_after]
    assert all(kind != "RUN_FINISHED" for _, kind in first_connection), got  # it was mid-run
    # The package reconnected once, by itself, from the last event it had.
    assert [line["lastEventId"] for line in of_type(lines, "connect")] == [
        None,
        first_connection[-1][0],
    ]
    assert len(got) > drop_after
    # Nothing lost, nothing repeated: exactly the stream a fresh reader sees, in order.
    assert got == await stream_from_start(served, ann, thread_id)
    assert len({event_id for event_id, _ in got}) == len(got)
    report = verify_stream([line["data"] for line in of_type(lines, "event")])
    assert report["ok"], report


# --- @ag-ui/client HttpAgent.abortRun() --------------------------------------------------------


async def test_http_agent_abort_run_ends_cleanly(
    api: Api, served: Served, chat_model: ScriptedModel
) -> None:
    ann = await api.quick_user()
    thread_id = str(uuid.uuid4())
    chat_model.add_turn(*text_turn(*WORDS))
    payload = {
        "url": f"{served.base}{API}/agent",
        "token": ann.access_token,
        "thread": thread_id,
        "run": "run-abort",
        "message": "talk to me",
        "abortOn": "TEXT_MESSAGE_CONTENT",
    }
    with ErrorLog().capture() as errors:
        async with node_script("http-agent-abort.mjs", payload) as script:
            aborted = await script.line("aborted")
            lines = await script.finish()
        # The run goes on without the client; it finishes on the thread's stream.
        rest = await read_sse(events_url(served.base, thread_id), ann.auth)

    (done,) = of_type(lines, "done")
    assert done["aborted"] is True
    assert aborted["after"][-1] == "TEXT_MESSAGE_CONTENT"
    # The client stopped reading where it aborted: the only later event is the RUN_ERROR it
    # makes up itself for an abort (code "abort"); nothing else from the server reached it.
    assert done["events"] == [*aborted["after"], "RUN_ERROR"], done
    assert done["runError"]["code"] == "abort", done
    # runAgent settled quietly: resolved, nothing on console.error ("Agent execution failed").
    assert done["settled"] == "resolved" and done["error"] is None, done
    assert done["errorsLogged"] == [] and done["warnings"] == [], done
    assert rest.types()[-1] == "RUN_FINISHED", rest.types()
    assert errors.records == [], errors.summary()
