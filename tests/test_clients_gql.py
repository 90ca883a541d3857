"""Python's stock GraphQL client, `gql`, against the real server on a loopback port.

Our other websocket tests drive our own raw client, which only proves that we agree with
ourselves. Here gql's `WebsocketsTransport` (on `graphql-transport-ws` and on the legacy
`graphql-ws`) receives subscriptions, and its `HTTPXAsyncTransport` runs queries and mutations;
every test also checks at the ASGI boundary that each websocket frame the server sent was a
text frame (gql refuses binary ones with "Binary data received in the websocket").
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError

from resolvers.events import inbox_channel, item_channel
from tests.support.agent import TERMINAL, ScriptedModel, new_thread, run_input, start_run, text_turn
from tests.support.client import Account, Api
from tests.support.gql_clients import (
    GqlSubscription,
    gql_http_session,
    gql_ws_session,
    http_url,
    run,
    subscription,
)
from tests.support.live_server import PROTOCOLS, listening, live_server
from tests.support.ws_frames import FrameLog

USER = "{ id username }"
ME = "{ me { id username email } }"
INBOX_SUBSCRIPTION = (
    "subscription { inboxMessages { id messageType status permission "
    f"sender {USER} recipient {USER} scheduleItem {{ id title }} }} }}"
)
ITEM_SUBSCRIPTION = (
    "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind "
    f"item {{ id title startAt permission owner {USER} }} }} }}"
)
AGENT_EVENTS = (
    "subscription($t: ID!, $a: String) { agentEvents(threadId: $t, after: $a) { id type event } }"
)
CREATE = (
    "mutation($input: CreateScheduleItemInput!) "
    "{ createScheduleItem(input: $input) { id title startAt permission } }"
)
ITEM = "query($id: ID!) { scheduleItem(id: $id) { id title startAt permission } }"
UPDATE = (
    "mutation($id: ID!, $input: UpdateScheduleItemInput!) "
    "{ updateScheduleItem(id: $id, input: $input) { id } }"
)
DELETE = "mutation($id: ID!) { deleteScheduleItem(id: $id) }"
SHARE = (
    "mutation($id: ID!, $input: ShareScheduleItemInput!) "
    "{ shareScheduleItem(id: $id, input: $input) { message } }"
)
INBOX = "{ inboxMessages { id scheduleItem { id } } }"
ACCEPT = (
    "mutation($id: ID!, $input: AcceptInboxMessageInput) "
    "{ acceptInboxMessage(id: $id, input: $input) { id } }"
)
STANDUP = {"title": "Standup", "startAt": "2026-03-01T09:00:00Z"}


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def chat_model(model: ScriptedModel) -> ScriptedModel:
    return model


@pytest.fixture
def frames() -> FrameLog:
    return FrameLog()


@pytest.fixture
async def url(app: Any, frames: FrameLog) -> AsyncIterator[str]:
    """The ws:// URL of /graphql; the test's last word is that every frame was text."""
    async with live_server(frames.wrap(app)) as ws_url:
        yield ws_url
    frames.assert_all_text()


@pytest.fixture
def http(url: str) -> str:
    return http_url(url)


async def create_item(session: AsyncClientSession, title: str = "Standup") -> str:
    created = await run(session, CREATE, {"input": {**STANDUP, "title": title}})
    return str(created["createScheduleItem"]["id"])


async def share(session: AsyncClientSession, item_id: str, to: Account) -> None:
    grant = {"email": to.email, "permissionView": True, "permissionInvite": True}
    await run(session, SHARE, {"id": item_id, "input": grant})


async def accept_invitation(session: AsyncClientSession, item_id: str) -> None:
    inbox = (await run(session, INBOX))["inboxMessages"]
    (message,) = [m for m in inbox if (m["scheduleItem"] or {}).get("id") == item_id]
    await run(session, ACCEPT, {"id": message["id"], "input": {"permissionView": True}})


def item_of(data: dict[str, Any]) -> dict[str, Any]:
    change: dict[str, Any] = data["scheduleItemChanged"]
    return change


# --- subscriptions ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_invitation_reaches_gqls_inbox_subscription(
    app: Any, url: str, http: str, alice: Account, bob: Account, protocol: str
) -> None:
    async with (
        gql_ws_session(url, protocol, alice.access_token) as alices,
        subscription(alices, INBOX_SUBSCRIPTION) as inbox,
        gql_http_session(http, bob.access_token) as bobs,
    ):
        await listening(app, inbox_channel(uuid.UUID(alice.id)))
        item_id = await create_item(bobs, "Offsite")
        await share(bobs, item_id, alice)
        invitation = (await inbox.next())["inboxMessages"]
        assert await inbox.silent(0.2)  # one invitation, one message

    assert invitation["messageType"] == "CALENDAR"
    assert invitation["status"] == "PENDING" and invitation["permission"] == 3
    assert invitation["sender"] == {"id": bob.id, "username": bob.username}
    assert invitation["recipient"] == {"id": alice.id, "username": alice.username}
    assert invitation["scheduleItem"] == {"id": item_id, "title": "Offsite"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_gql_hears_a_shared_items_update_then_its_deletion(
    app: Any, url: str, http: str, alice: Account, bob: Account, protocol: str
) -> None:
    async with (
        gql_http_session(http, alice.access_token) as owner,
        gql_http_session(http, bob.access_token) as guest,
    ):
        item_id = await create_item(owner)
        await share(owner, item_id, bob)
        await accept_invitation(guest, item_id)

        async with (
            gql_ws_session(url, protocol, alice.access_token) as owners_socket,
            gql_ws_session(url, protocol, bob.access_token) as guests_socket,
            subscription(owners_socket, ITEM_SUBSCRIPTION, {"id": item_id}) as owners,
            subscription(guests_socket, ITEM_SUBSCRIPTION, {"id": item_id}) as guests,
        ):
            await listening(app, item_channel(uuid.UUID(item_id)), count=2)
            change = {"title": "Retro", "startAt": "2026-03-01T10:00:00Z"}
            await run(owner, UPDATE, {"id": item_id, "input": change})
            updated = [item_of(await owners.next()), item_of(await guests.next())]

            await run(owner, DELETE, {"id": item_id})
            deleted = [item_of(await owners.next()), item_of(await guests.next())]
            await owners.ends()  # gql's iterator finishes: the server completed the operation
            await guests.ends()

    for seen, permission in zip(updated, (7, 1), strict=True):
        assert seen == {
            "kind": "UPDATED",
            "item": {
                "id": item_id,
                "title": "Retro",
                "startAt": "2026-03-01T10:00:00+00:00",
                "permission": permission,
                "owner": {"id": alice.id, "username": alice.username},
            },
        }
    for seen in deleted:
        assert seen["kind"] == "DELETED"
        assert seen["item"]["id"] == item_id and seen["item"]["title"] == "Retro"


async def read_run(events: GqlSubscription) -> list[dict[str, Any]]:
    """The subscription's items up to and including the first terminal event."""
    items: list[dict[str, Any]] = []
    while not items or items[-1]["type"] not in TERMINAL:
        items.append((await events.next())["agentEvents"])
        assert len(items) < 200, items  # a run of this script is a few dozen events
    return items


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_gql_receives_a_runs_agent_events_and_resumes_after_an_id(
    api: Api, url: str, alice: Account, model: ScriptedModel, protocol: str
) -> None:
    model.add_turn(*text_turn(*[f"word{i} " for i in range(6)]))
    thread = new_thread()
    ticket = await start_run(api, alice, run_input(thread, text="hello over gql"))

    async with gql_ws_session(url, protocol, alice.access_token) as session:
        async with subscription(session, AGENT_EVENTS, {"t": thread}) as events:
            everything = await read_run(events)
        middle = everything[len(everything) // 2]
        after = {"t": thread, "a": middle["id"]}
        async with subscription(session, AGENT_EVENTS, after) as events:
            rest = await read_run(events)
            assert await events.silent(0.3)  # nothing repeated after the terminal event

    types = [item["type"] for item in everything]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED", types
    assert "TEXT_MESSAGE_CONTENT" in types
    started = everything[0]["event"]
    assert (started["threadId"], started["runId"]) == (thread, ticket["runId"])
    text = "".join(i["event"]["delta"] for i in everything if i["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "".join(f"word{i} " for i in range(6))
    assert all(item["event"]["type"] == item["type"] for item in everything)
    ids = [item["id"] for item in everything]
    assert len(set(ids)) == len(ids)
    assert rest == everything[len(everything) // 2 + 1 :]  # no loss, no repeat


# --- queries and mutations ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_gql_runs_queries_and_mutations_over_http_and_the_socket(
    url: str, http: str, alice: Account, protocol: str
) -> None:
    async with (
        gql_http_session(http, alice.access_token) as over_http,
        gql_ws_session(url, protocol, alice.access_token) as over_socket,
    ):
        me = await run(over_http, ME)
        assert me == {"me": {"id": alice.id, "username": alice.username, "email": alice.email}}
        assert await run(over_socket, ME) == me

        created = (await run(over_http, CREATE, {"input": STANDUP}))["createScheduleItem"]
        assert created["title"] == "Standup" and created["permission"] == 7
        assert created["startAt"] == "2026-03-01T09:00:00+00:00"
        read_back = await run(over_socket, ITEM, {"id": created["id"]})
        assert read_back == {"scheduleItem": created}

        made_on_socket = await run(over_socket, CREATE, {"input": {**STANDUP, "title": "Ws"}})
        item_id = made_on_socket["createScheduleItem"]["id"]
        assert (await run(over_http, ITEM, {"id": item_id}))["scheduleItem"]["title"] == "Ws"


ERROR_CASES = [  # (signed in, document, variables, code)
    (False, ME, None, "UNAUTHENTICATED"),
    (True, "{ me { noSuchField } }", None, "BAD_REQUEST"),
    (True, CREATE, {"input": {**STANDUP, "timezone": "Mars/Olympus_Mons"}}, "BAD_USER_INPUT"),
]


async def error_code_of(session: AsyncClientSession, query: str, variables: Any) -> str:
    with pytest.raises(TransportQueryError) as raised:
        await run(session, query, variables)
    errors = raised.value.errors or []
    assert len(errors) == 1, errors
    return str(errors[0]["extensions"]["code"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_error_codes_reach_gqls_transport_query_error(
    url: str, http: str, alice: Account, protocol: str
) -> None:
    async with (
        gql_http_session(http) as anonymous_http,
        gql_http_session(http, alice.access_token) as http_session,
        gql_ws_session(url, protocol) as anonymous_socket,
        gql_ws_session(url, protocol, alice.access_token) as socket_session,
    ):
        for signed_in, query, variables, code in ERROR_CASES:
            over_http = http_session if signed_in else anonymous_http
            over_socket = socket_session if signed_in else anonymous_socket
            assert await error_code_of(over_http, query, variables) == code, query
            assert await error_code_of(over_socket, query, variables) == code, query
        # a failed operation leaves the socket usable
        assert (await run(socket_session, ME))["me"]["id"] == alice.id
