"""Authorization matrix (docs/contract.md §2, §5): table-driven, built against what the app serves.

Alice owns a schedule item, friend requests both ways, a friendship, inbox messages and an
agent thread. Bob, a stranger, calls every REST route and every GraphQL field that takes an id
with her ids: 404 / NOT_FOUND (null for `scheduleItem(id)`), 403 / FORBIDDEN for her agent
thread and for `GET /auth/users`, and never any of her data. An item bob can see but may not
change is 403. The tables are checked against `app.routes` and the GraphQL schema, so a route or
field added later fails here until someone decides what a stranger gets from it.

Bad tokens — a revoked session's, an expired one, one signed with another key, `alg: none`,
garbage — are 401 / UNAUTHENTICATED on a sample of REST, SSE, GraphQL and websocket operations.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest

from config import Settings
from models import (
    AgentRun,
    CalendarFeed,
    FriendRequest,
    Friendship,
    InboxMessage,
    ScheduleItem,
    ScheduleSubscription,
    User,
)
from resolvers.sessions import open_session
from tests.support.agent import ScriptedModel, new_thread, run_input, start_run, wait_idle
from tests.support.calendar_api import (
    PROBLEM,
    befriend,
    create_item,
    inbox,
    ok,
    send_request,
    share,
)
from tests.support.client import Account, Api, bearer
from tests.support.live_server import (
    PROTOCOLS,
    GqlSocket,
    auth_payload,
    error_code,
    gql_socket,
    live_server,
)
from tests.support.matrix import fields_of, graphql_schema, id_fields, served_routes

V1 = "/api/v1"


@pytest.fixture
def chat_model() -> ScriptedModel:
    """Alice's agent run answers "ok" at once: the matrix is about access, not the model."""
    return ScriptedModel()


# --- alice's world ---------------------------------------------------------------------------


@dataclass
class World:
    alice: Account
    dave: Account
    ids: dict[str, str]
    # Strings of alice's that bob must never read: titles, notes, her email, every id.
    secrets: list[str] = field(default_factory=list)


@pytest.fixture
async def world(api: Api, alice: Account, carol: Account) -> World:
    dave, erin = await api.quick_user("dave"), await api.quick_user("erin")
    item = await create_item(
        api, alice, title="Alice private dentist", description="alice private description"
    )
    request_out = await send_request(api, alice, dave, content="alice private note to dave")
    request_in = await send_request(api, erin, alice, content="erin private note to alice")
    friendship = await befriend(api, carol, alice)
    carol_item = await create_item(api, carol, title="Carol surprise party for alice")
    ok(await share(api, carol, carol_item["id"], alice.email, permission_edit=True))
    messages = await inbox(api, alice, status="pending")
    (calendar,) = [m for m in messages if m["message_type"] == "calendar"]
    (befriending,) = [m for m in messages if m["message_type"] == "friend_request"]
    feed = ok(
        await api.rest("POST", "/calendar/feeds", alice.access_token, json={"name": "alice feed"}),
        201,
    )
    thread = new_thread()
    await start_run(api, alice, run_input(thread, "run-1", "alice private agent message"))
    await wait_idle(thread)
    ids = {
        "alice": alice.id,
        "item": item["id"],
        "request_out": request_out["id"],
        "request_in": request_in["id"],
        "friendship": friendship,
        "message_calendar": calendar["id"],
        "message_friend": befriending["id"],
        "thread": thread,
        "feed": feed["id"],
    }
    secrets = [
        "Alice private dentist",
        "alice private description",
        "alice private note to dave",
        "erin private note to alice",
        "Carol surprise party",
        "alice private agent message",
        alice.email,
        carol_item["id"],
        feed["token"],
        "alice feed",
        *ids.values(),
    ]
    return World(alice=alice, dave=dave, ids=ids, secrets=secrets)


def leaks(text: str, secrets: list[str], asked: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The secrets in a response that the request did not carry itself (echoing the id one
    asked about, as `instance` does, reveals nothing)."""
    return [s for s in secrets if s in text and s not in asked and s not in allowed]


# --- REST table --------------------------------------------------------------------------------

Body = Callable[[World], Any]


@dataclass(frozen=True)
class RestCase:
    method: str
    route: str  # as served
    status: int
    target: str | None = None  # the key in World.ids the path parameter takes
    body: Body | None = None
    params: Callable[[World], dict[str, str]] | None = None

    def path(self, world: World, target: str | None = None) -> str:
        value = target or (world.ids[self.target] if self.target else "")
        # `{run_id}` is always alice's run: a stranger is refused on the thread already.
        route = self.route.replace("{run_id}", "run-1")
        # `{user_id}` (an item's subscriber) is dave: the item is refused first.
        route = route.replace("{user_id}", world.dave.id)
        return route.replace("{id}", value).replace("{thread_id}", value).replace("{token}", value)

    @property
    def label(self) -> str:
        return f"{self.method} {self.route} [{self.target or '-'}]"


def _alice_run(world: World) -> dict[str, Any]:
    return run_input(world.ids["thread"], "run-1", "bob was here")


def _bobs_run(world: World) -> dict[str, Any]:
    return run_input(world.ids["thread"], "run-bob", "bob was here")


def _an_occurrence(_w: World) -> dict[str, str]:
    return {"occurrence": "2026-03-01T09:00:00Z"}


# Bob calls alice's objects. 404 where he may not see them (docs/contract.md §2), 403 on her agent
# thread (§5) and on looking up her account (§3 `GET /auth/users`: 403 whether or not it exists).
STRANGER_REST: list[RestCase] = [
    RestCase("GET", V1 + "/schedule-items/{id}", 404, "item"),
    RestCase("PATCH", V1 + "/schedule-items/{id}", 404, "item", lambda _w: {"title": "bob"}),
    RestCase("DELETE", V1 + "/schedule-items/{id}", 404, "item"),
    RestCase(
        "POST",
        V1 + "/schedule-items/{id}/share",
        404,
        "item",
        lambda w: {"email": w.dave.email, "permission_edit": True, "permission_invite": True},
    ),
    # One occurrence of her item (it does not repeat: still 404 first, never 400).
    *[
        RestCase(method, V1 + "/schedule-items/{id}", 404, "item", body, _an_occurrence)
        for method, body in [("PATCH", lambda _w: {"title": "bob"}), ("DELETE", None)]
    ],
    RestCase("GET", V1 + "/schedule-items/{id}/subscribers", 404, "item"),
    RestCase(
        "PATCH",
        V1 + "/schedule-items/{id}/subscribers/{user_id}",
        404,
        "item",
        lambda _w: {"permission_edit": True},
    ),
    RestCase("DELETE", V1 + "/schedule-items/{id}/subscribers/{user_id}", 404, "item"),
    *[
        RestCase(method, V1 + route, 404, target)
        for method, route in [
            ("POST", "/friends/requests/{id}/accept"),
            ("POST", "/friends/requests/{id}/decline"),
            ("DELETE", "/friends/requests/{id}"),
        ]
        for target in ("request_out", "request_in")
    ],
    RestCase("DELETE", V1 + "/calendar/feeds/{id}", 404, "feed"),
    # A feed URL needs no bearer: its token is the secret. Her feed's id is no token (404, as
    # an unknown one), and a stranger's bearer changes nothing.
    RestCase("GET", V1 + "/calendar/feeds/{token}.ics", 404, "feed"),
    RestCase("DELETE", V1 + "/friends/{id}", 404, "friendship"),
    RestCase("DELETE", V1 + "/friends/{id}", 404, "alice"),  # the friend's user id form
    *[
        RestCase("POST", V1 + f"/inbox/messages/{{id}}/{action}", 404, target, body)
        for action, body in [
            ("accept", lambda _w: {"permission_view": True, "permission_edit": True}),
            ("dismiss", None),
        ]
        for target in ("message_calendar", "message_friend")
    ],
    RestCase("POST", V1 + "/agent/runs", 403, None, _alice_run),  # even her own run id
    RestCase("POST", V1 + "/agent/runs", 403, None, _bobs_run),
    RestCase("POST", V1 + "/agent", 403, None, _bobs_run),
    RestCase(
        "POST",
        V1 + "/agent/runs/{thread_id}/resume",
        403,
        "thread",
        lambda w: run_input(w.ids["thread"], "run-bob-2"),
    ),
    RestCase("GET", V1 + "/agent/runs/{thread_id}/events", 403, "thread"),
    RestCase("GET", V1 + "/agent/runs/{thread_id}/history", 403, "thread"),
    RestCase("GET", V1 + "/agent/runs/{thread_id}/runs", 403, "thread"),
    RestCase("GET", V1 + "/agent/runs/{thread_id}/runs/{run_id}", 403, "thread"),
    RestCase(
        "POST", V1 + "/agent/runs/{thread_id}/cancel", 403, "thread", lambda _w: {"runId": "run-1"}
    ),
    RestCase("POST", V1 + "/agent/runs/{thread_id}/cancel", 403, "thread"),  # every run
    RestCase("GET", V1 + "/agent/history", 403, params=lambda w: {"threadId": w.ids["thread"]}),
    RestCase("GET", V1 + "/auth/users", 403, params=lambda w: {"email": w.alice.email}),
]


@dataclass(frozen=True)
class OwnCase:
    """A route without an id of anyone else's: bob gets his own data, none of alice's."""

    method: str
    route: str
    status: int
    body: Body | None = None
    allowed: tuple[str, ...] = ()  # World.ids keys bob may legitimately read here
    content: bytes | None = None  # a body that is not JSON


BOBS_ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//matrix//EN\r\nBEGIN:VEVENT\r\n"
    b"UID:bob-1\r\nDTSTAMP:20260301T000000Z\r\nDTSTART:20260301T090000Z\r\n"
    b"SUMMARY:Bob's imported\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)

OWN_DATA_REST: list[OwnCase] = [
    OwnCase("GET", V1 + "/users/me", 200),
    OwnCase(
        "PATCH",
        V1 + "/users/me",
        200,
        lambda _w: {"bio": "bob's own bio", "timezone": "Asia/Tokyo"},
    ),
    # An exact email match finds alice's public profile (id, username): never her email.
    OwnCase("POST", V1 + "/users/search", 200, lambda w: {"query": w.alice.email}, ("alice",)),
    OwnCase("GET", V1 + "/friends", 200),
    OwnCase("GET", V1 + "/friends/requests/inbox", 200),
    OwnCase("GET", V1 + "/schedule-items", 200),
    OwnCase(
        "POST", V1 + "/schedule-items", 201, lambda _w: {"title": "Bob's", "start_at": "2026-03-01"}
    ),
    OwnCase("GET", V1 + "/inbox/messages", 200),
    OwnCase("GET", V1 + "/agent/history", 200),
    # The same for every user: what the server's agent can do.
    OwnCase("GET", V1 + "/agent/capabilities", 200),
    # Anyone may be sent a friend request; the answer names its recipient, nothing else.
    OwnCase(
        "POST",
        V1 + "/friends/requests",
        201,
        lambda w: {"target_user_id": w.alice.id},
        ("alice",),
    ),
    OwnCase("GET", V1 + "/friends/requests/outgoing", 200, allowed=("alice",)),
    # Bob's calendar: his export, his feeds, his import.
    OwnCase("GET", V1 + "/calendar.ics", 200),
    OwnCase("GET", V1 + "/calendar/feeds", 200),
    OwnCase("POST", V1 + "/calendar/feeds", 201, lambda _w: {"name": "bob's feed"}),
    OwnCase("POST", V1 + "/calendar/import", 201, content=BOBS_ICS),
]

REST_EXEMPT: dict[tuple[str, str], str] = {
    # Anonymous auth flows: no caller, no object id (a refresh token is a bearer secret, not
    # an id: holding it is ownership). Covered by tests/test_auth_*.py.
    ("POST", V1 + "/auth/verifications"): "anonymous sign-up",
    ("POST", V1 + "/auth/resend"): "anonymous, answers 204 whatever the email",
    ("POST", V1 + "/auth/verify"): "anonymous, needs the emailed code",
    ("POST", V1 + "/auth/sessions"): "anonymous sign-in",
    ("POST", V1 + "/auth/sessions/refresh"): "takes a refresh token, not an id",
    ("DELETE", V1 + "/auth/sessions"): "takes a refresh token, not an id",
    # Public, no user data.
    ("GET", V1 + "/health"): "public liveness",
    ("GET", V1 + "/infra/health"): "public dependency health",
    ("GET", "/openapi.json"): "static API description",
    ("GET", "/docs"): "static API description",
    ("GET", "/docs/oauth2-redirect"): "static API description",
    # GraphQL over HTTP and websockets: the GraphQL tables below.
    ("GET", "/graphql"): "GraphQL table",
    ("POST", "/graphql"): "GraphQL table",
    ("WS", "/graphql"): "GraphQL table (subscriptions)",
}


async def test_the_rest_tables_cover_every_served_route(app: Any) -> None:
    stranger = {(c.method, c.route) for c in STRANGER_REST}
    own = {(c.method, c.route) for c in OWN_DATA_REST}
    # (`GET /agent/history` is in both: with alice's threadId, and without one.)
    assert not (stranger | own) & set(REST_EXEMPT)
    listed = stranger | own | set(REST_EXEMPT)
    served = served_routes(app)
    assert served - listed == set(), "served routes missing from the authorization matrix"
    assert listed - served == set(), "the matrix names routes the app does not serve"
    # Every route with a path parameter is one a stranger is tested on.
    assert {r for r in served if "{" in r[1]} <= stranger


async def _call(
    api: Api, case: RestCase, world: World, token: str, target: str | None = None
) -> tuple[str, dict[str, Any], httpx.Response]:
    path = case.path(world, target)
    kwargs: dict[str, Any] = {"headers": bearer(token)}
    if case.body is not None:
        kwargs["json"] = case.body(world)
    if case.params is not None:
        kwargs["params"] = case.params(world)
    return path, kwargs, await api.client.request(case.method, path, **kwargs)


def _problem(response: httpx.Response, status: int, label: str) -> dict[str, Any]:
    assert response.status_code == status, (label, response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM), (label, response.headers)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"], (label, body)
    return body


async def test_a_stranger_gets_404_or_403_and_never_the_data_over_rest(
    api: Api, world: World, bob: Account
) -> None:
    for case in STRANGER_REST:
        path, kwargs, r = await _call(api, case, world, bob.access_token)
        body = _problem(r, case.status, case.label)
        asked = path + str(kwargs.get("json", "")) + str(kwargs.get("params", ""))
        assert leaks(r.text, world.secrets, asked) == [], (case.label, r.text)
        if case.status == 404:
            # Existence does not leak: an unknown id is answered word for word alike.
            _, _, twin = await _call(api, case, world, bob.access_token, str(uuid.uuid4()))
            twin_body = _problem(twin, 404, case.label + " (unknown id)")
            assert twin_body["detail"] == body["detail"], (case.label, body, twin_body)
    # GET /auth/users answers alike whether or not the email exists.
    r = await api.rest("GET", "/auth/users", bob.access_token, params={"email": "no@example.com"})
    assert _problem(r, 403, "lookup of an unknown email")["detail"] == body_of_lookup(
        await api.rest("GET", "/auth/users", bob.access_token, params={"email": world.alice.email})
    )
    await assert_alices_world_is_intact(world)


def body_of_lookup(response: httpx.Response) -> str:
    detail: str = _problem(response, 403, "lookup of alice's email")["detail"]
    return detail


async def assert_alices_world_is_intact(world: World) -> None:
    ids = world.ids
    item = await ScheduleItem.get(id=ids["item"])
    assert item.title == "Alice private dentist" and item.deleted_at is None
    assert not await InboxMessage.filter(schedule_item_id=ids["item"]).exists()  # no share
    assert not await ScheduleSubscription.filter(item_id=ids["item"]).exists()
    for key in ("request_out", "request_in"):
        assert (await FriendRequest.get(id=ids[key])).status == "pending", key
    assert await Friendship.filter(id=ids["friendship"]).exists()
    for key in ("message_calendar", "message_friend"):
        message = await InboxMessage.get(id=ids[key])
        assert message.status == "pending" and not message.is_read, key
    assert [r.run_id for r in await AgentRun.filter(thread_id=ids["thread"])] == ["run-1"]
    assert await CalendarFeed.filter(id=ids["feed"]).exists()
    assert [r.cancel_requested_at for r in await AgentRun.filter(thread_id=ids["thread"])] == [None]


async def test_routes_without_ids_answer_the_stranger_with_his_own_data_only(
    api: Api, world: World, bob: Account
) -> None:
    for case in OWN_DATA_REST:
        kwargs: dict[str, Any] = {"headers": bob.auth}
        if case.body is not None:
            kwargs["json"] = case.body(world)
        if case.content is not None:
            kwargs["content"] = case.content
            kwargs["headers"] = {**bob.auth, "content-type": "text/calendar"}
        r = await api.client.request(case.method, case.route, **kwargs)
        label = f"{case.method} {case.route}"
        assert r.status_code == case.status, (label, r.text)
        allowed = tuple(world.ids[k] for k in case.allowed)
        assert leaks(r.text, world.secrets, str(kwargs.get("json", "")), allowed) == [], (
            label,
            r.text,
        )


# --- GraphQL table -----------------------------------------------------------------------------

ITEM = "id title description owner { id username } subscribers { user { id } permission }"
REQUEST = "id content status from { id username } to { id username }"
MESSAGE = "id content status permission scheduleItem { id title } sender { id }"
TICKET = "taskId threadId runId created"
HISTORY = "threadId day messages cursor"


@dataclass(frozen=True)
class GqlCase:
    field: str  # "Type.field"
    document: str
    variables: Callable[[World], dict[str, Any]]
    expect: str  # an extensions.code, "null", or "public"
    target: str | None = None  # the World.ids key that an unknown id replaces for the twin


def _v(**keys: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {name: w.ids[key] for name, key in keys.items()}


def _ids_case(type_field: str, args: str, selection: str, target: str, code: str) -> GqlCase:
    kind = "mutation" if type_field.startswith("Mutation.") else "query"
    name = type_field.split(".")[1]
    suffix = f" {{ {selection} }}" if selection else ""
    document = f"{kind}($id: ID!) {{ {name}(id: $id{args}){suffix} }}"
    return GqlCase(type_field, document, _v(id=target), code, target)


_SHARE_INPUT = ', input: {email: "dave@example.com", permissionEdit: true}'
_OCCURRENCE = ', occurrence: "2026-03-01T09:00:00Z"'

STRANGER_GQL: list[GqlCase] = [
    # Public profile by design (`User` has no email); an id of anything else is null.
    _ids_case("Query.user", "", "id username avatarUrl bio", "alice", "public"),
    _ids_case("Query.user", "", "id username", "item", "null"),
    _ids_case("Query.scheduleItem", "", ITEM, "item", "null"),
    GqlCase(
        "Query.agentHistory",
        f"query($id: ID) {{ agentHistory(threadId: $id) {{ {HISTORY} }} }}",
        _v(id="thread"),
        "FORBIDDEN",
    ),
    *[
        _ids_case(f"Mutation.{name}", "", REQUEST, target, "NOT_FOUND")
        for name in ("acceptFriendRequest", "declineFriendRequest")
        for target in ("request_out", "request_in")
    ],
    *[
        _ids_case("Mutation.cancelFriendRequest", "", "", target, "NOT_FOUND")
        for target in ("request_out", "request_in")
    ],
    _ids_case("Mutation.revokeCalendarFeed", "", "", "feed", "NOT_FOUND"),
    _ids_case("Mutation.removeFriend", "", "", "friendship", "NOT_FOUND"),
    _ids_case("Mutation.removeFriend", "", "", "alice", "NOT_FOUND"),
    _ids_case("Mutation.updateScheduleItem", ', input: {title: "bob"}', ITEM, "item", "NOT_FOUND"),
    _ids_case("Mutation.deleteScheduleItem", "", "", "item", "NOT_FOUND"),
    _ids_case("Mutation.shareScheduleItem", _SHARE_INPUT, "message", "item", "NOT_FOUND"),
    _ids_case(
        "Mutation.updateScheduleItem",
        _OCCURRENCE + ', input: {title: "bob"}',
        ITEM,
        "item",
        "NOT_FOUND",
    ),
    _ids_case("Mutation.deleteScheduleItem", _OCCURRENCE, "", "item", "NOT_FOUND"),
    GqlCase(
        "Mutation.updateScheduleSubscriber",
        "mutation($id: ID!, $u: ID!) { updateScheduleSubscriber(itemId: $id, userId: $u, "
        "input: {permissionEdit: true}) { permission user { id } } }",
        lambda w: {"id": w.ids["item"], "u": w.dave.id},
        "NOT_FOUND",
        "item",
    ),
    GqlCase(
        "Mutation.removeScheduleSubscriber",
        "mutation($id: ID!, $u: ID!) { removeScheduleSubscriber(itemId: $id, userId: $u) }",
        lambda w: {"id": w.ids["item"], "u": w.dave.id},
        "NOT_FOUND",
        "item",
    ),
    *[
        _ids_case(f"Mutation.{name}", args, MESSAGE, target, "NOT_FOUND")
        for name, args in [
            ("acceptInboxMessage", ", input: {permissionEdit: true}"),
            ("dismissInboxMessage", ""),
        ]
        for target in ("message_calendar", "message_friend")
    ],
    GqlCase(
        "Mutation.startAgentRun",
        f"mutation($input: JSON!) {{ startAgentRun(input: $input) {{ {TICKET} }} }}",
        lambda w: {"input": _alice_run(w)},
        "FORBIDDEN",
    ),
    GqlCase(
        "Mutation.resumeAgentRun",
        f"mutation($id: ID!, $input: JSON!) {{ resumeAgentRun(threadId: $id, input: $input) "
        f"{{ {TICKET} }} }}",
        lambda w: {"id": w.ids["thread"], "input": run_input(w.ids["thread"], "run-bob")},
        "FORBIDDEN",
    ),
    GqlCase(
        "Query.agentRun",
        'query($id: ID!) { agentRun(threadId: $id, runId: "run-1") { runId status usage } }',
        _v(id="thread"),
        "FORBIDDEN",
    ),
    GqlCase(
        "Mutation.cancelAgentRun",
        'mutation($id: ID!) { cancelAgentRun(threadId: $id, runId: "run-1") }',
        _v(id="thread"),
        "FORBIDDEN",
    ),
    GqlCase(
        "Mutation.cancelAgentRun",
        "mutation($id: ID!) { cancelAgentRun(threadId: $id) }",
        _v(id="thread"),
        "FORBIDDEN",
    ),
    # Not an id field, but the GraphQL twin of `GET /auth/users` (403 whatever the email).
    GqlCase(
        "Query.userByEmail",
        "query($e: String!) { userByEmail(email: $e) { id email } }",
        lambda w: {"e": w.alice.email},
        "FORBIDDEN",
    ),
]

# Subscriptions run over the websocket (see the test below).
ITEM_CHANGED = (
    f"subscription($id: ID!) {{ scheduleItemChanged(id: $id) {{ kind item {{ {ITEM} }} }} }}"
)
AGENT_EVENTS = "subscription($id: ID!) { agentEvents(threadId: $id) { id type event } }"
STRANGER_SUBSCRIPTIONS: list[GqlCase] = [
    GqlCase("Subscription.scheduleItemChanged", ITEM_CHANGED, _v(id="item"), "NOT_FOUND", "item"),
    GqlCase("Subscription.agentEvents", AGENT_EVENTS, _v(id="thread"), "FORBIDDEN"),
]

GQL_EXEMPT: dict[str, str] = {
    # Any user may be sent a friend request: `targetUserId` names its recipient, not an object
    # of theirs (the REST twin is in OWN_DATA_REST).
    "Mutation.sendFriendRequest": "a request may be sent to anyone",
}

# Query fields without ids: bob gets his own data, none of alice's.
OWN_DATA_GQL: dict[str, tuple[str, dict[str, Any] | None, tuple[str, ...]]] = {
    "Query.me": ("{ me { id username email bio timezone } }", None, ()),
    "Query.searchUsers": (
        "query($q: String!) { searchUsers(query: $q) { id username bio } }",
        {"q": "alice@example.com"},
        ("alice",),  # her public profile, found by exact email, without the email
    ),
    "Query.friends": ("{ friends { id friend { id username } } }", None, ()),
    "Query.friendRequests": (
        f"{{ i: friendRequests(direction: INCOMING) {{ {REQUEST} }} "
        f"o: friendRequests(direction: OUTGOING) {{ {REQUEST} }} }}",
        None,
        (),
    ),
    "Query.scheduleItems": (f"{{ scheduleItems {{ {ITEM} }} }}", None, ()),
    "Query.inboxMessages": (f"{{ inboxMessages {{ {MESSAGE} }} }}", None, ()),
    "Query.agentThreads": ("{ agentThreads { id lastActiveAt } }", None, ()),
    "Query.health": ("{ health { status } }", None, ()),
    "Query.agentCapabilities": ("{ agentCapabilities }", None, ()),
    "Query.calendarExport": ("{ calendarExport }", None, ()),
    "Query.calendarFeeds": ("{ calendarFeeds { id name createdAt } }", None, ()),
}


async def test_the_graphql_tables_cover_every_field_that_takes_an_id(app: Any) -> None:
    schema = graphql_schema(app)
    listed = {c.field for c in STRANGER_GQL + STRANGER_SUBSCRIPTIONS} | set(GQL_EXEMPT)
    wanted = id_fields(schema)
    assert wanted - listed == set(), "GraphQL id fields missing from the authorization matrix"
    roots = fields_of(schema)
    known = {f"{t}.{name}" for t, names in roots.items() for name in names}
    assert listed - known == set(), "the matrix names fields the schema does not have"
    # Every query field is in one of the tables.
    queries = {f"Query.{name}" for name in roots["Query"]}
    assert queries - listed - set(OWN_DATA_GQL) == set(), "query fields missing from the matrix"
    assert {"Query.scheduleItem", "Mutation.removeFriend", "Subscription.agentEvents"} <= wanted


def _gql_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = body.get("errors") or []
    return errors


async def test_a_stranger_gets_not_found_or_forbidden_and_never_the_data_over_graphql(
    api: Api, world: World, bob: Account
) -> None:
    for case in STRANGER_GQL:
        variables = case.variables(world)
        body = await api.gql(case.document, variables, bob.access_token)
        name = case.field.split(".")[1]
        label = f"{case.field} {variables}"
        data: Any = body.get("data")
        if case.expect == "null":
            assert _gql_errors(body) == [] and data == {name: None}, (label, body)
        elif case.expect == "public":
            assert _gql_errors(body) == [], (label, body)
            assert data[name]["id"] == world.alice.id, (label, body)
            assert data[name]["username"] == world.alice.username, (label, body)
        else:
            codes = [(e.get("extensions") or {}).get("code") for e in _gql_errors(body)]
            assert codes == [case.expect], (label, body)
            assert not data or data.get(name) is None, (label, body)
            if case.expect == "NOT_FOUND" and case.target:
                twin_vars = {**variables, "id": str(uuid.uuid4())}
                twin = await api.gql(case.document, twin_vars, bob.access_token)
                assert _gql_errors(twin)[0]["message"] == _gql_errors(body)[0]["message"], label
        allowed = (world.alice.id,) if case.expect == "public" else ()
        assert leaks(str(body), world.secrets, str(variables), allowed) == [], (label, body)
    await assert_alices_world_is_intact(world)


async def test_query_fields_without_ids_show_the_stranger_only_his_own_data(
    api: Api, world: World, bob: Account
) -> None:
    for type_field, (document, variables, allowed_keys) in OWN_DATA_GQL.items():
        body = await api.gql(document, variables, bob.access_token)
        assert _gql_errors(body) == [] and body["data"], (type_field, body)
        allowed = tuple(world.ids[k] for k in allowed_keys)
        assert leaks(str(body), world.secrets, str(variables), allowed) == [], (type_field, body)


async def _expect_error(socket: GqlSocket, op: str) -> tuple[str, Any]:
    """The operation fails: an `error` message, or a result with errors and then `complete`."""
    event = await socket.event(op)
    code = error_code(event)
    if event.kind == "next":
        assert event.data is None, event
        assert (await socket.event(op)).kind == "complete"
    return code, event.payload


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_stranger_cannot_subscribe_to_alices_objects(
    app: Any, world: World, bob: Account, protocol: str
) -> None:
    async with (
        live_server(app) as url,
        gql_socket(url, protocol, auth_payload(bob.access_token)) as socket,
    ):
        for case in STRANGER_SUBSCRIPTIONS:
            variables = case.variables(world)
            op = await socket.subscribe(case.document, variables)
            code, payload = await _expect_error(socket, op)
            assert code == case.expect, (case.field, payload)
            assert leaks(str(payload), world.secrets, str(variables)) == [], payload


# --- 403: what bob can see but may not change -----------------------------------------------

UPDATE = (
    f'mutation($id: ID!) {{ updateScheduleItem(id: $id, input: {{title: "bob"}}) {{ {ITEM} }} }}'
)
DELETE = "mutation($id: ID!) { deleteScheduleItem(id: $id) }"
SHARE = (
    'mutation($id: ID!) { shareScheduleItem(id: $id, input: {email: "carol@example.com"}) '
    "{ message } }"
)


async def test_a_view_only_subscriber_is_forbidden_to_change_delete_or_share(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    item = await create_item(api, alice, title="Alice's shared standup")
    ok(await share(api, alice, item["id"], bob.email))  # view only
    (message,) = await inbox(api, bob, status="pending")
    ok(await api.rest("POST", f"/inbox/messages/{message['id']}/accept", bob.access_token), 204)
    seen = ok(await api.rest("GET", f"/schedule-items/{item['id']}", bob.access_token))
    assert seen["permission"] == 1 and seen["title"] == "Alice's shared standup"

    path = f"/schedule-items/{item['id']}"
    for method, suffix, body in [
        ("PATCH", "", {"title": "bob"}),
        ("DELETE", "", None),
        ("POST", "/share", {"email": carol.email}),
        ("GET", "/subscribers", None),  # the edit bit or the owner
        ("PATCH", f"/subscribers/{bob.id}", {"permission_edit": True}),  # the owner only
        ("DELETE", f"/subscribers/{carol.id}", None),  # (not a subscriber, and not his to say)
    ]:
        r = await api.rest(method, path + suffix, bob.access_token, json=body)
        _problem(r, 403, f"{method} {path}{suffix}")
    for document, name in [(UPDATE, "updateScheduleItem"), (DELETE, "deleteScheduleItem")]:
        answer = await api.gql(document, {"id": item["id"]}, bob.access_token)
        assert [e["extensions"]["code"] for e in _gql_errors(answer)] == ["FORBIDDEN"], answer
        assert not answer.get("data") or answer["data"].get(name) is None, answer
    answer = await api.gql(SHARE, {"id": item["id"]}, bob.access_token)
    assert [e["extensions"]["code"] for e in _gql_errors(answer)] == ["FORBIDDEN"], answer

    stored = await ScheduleItem.get(id=item["id"])
    assert stored.title == "Alice's shared standup" and stored.deleted_at is None
    assert not await InboxMessage.filter(recipient__email="carol@example.com").exists()
    assert (await ScheduleSubscription.get(item_id=item["id"], user_id=bob.id)).permission == 1


# --- bad tokens ------------------------------------------------------------------------------


@pytest.fixture
async def bad_tokens(api: Api, alice: Account, settings: Settings) -> dict[str, str]:
    assert api.services is not None
    # A second session of alice's, signed out through the documented route.
    second = await open_session(api.services, await User.get(id=alice.id))
    r = await api.rest("DELETE", "/auth/sessions", json={"refresh_token": second.refresh_token})
    assert r.status_code == 204, r.text
    key = settings.signing_key()
    claims = jwt.decode(alice.access_token, key, algorithms=["HS256"], audience="authenticated")
    now = int(time.time())
    return {
        "revoked session": second.access_token,
        "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 60}, key, "HS256"),
        "another key": jwt.encode(claims, "another-key-of-at-least-32-bytes-long", "HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),  # type: ignore[arg-type]
        "garbage": "garbage",
        "unknown session": jwt.encode({**claims, "sid": str(uuid.uuid4())}, key, "HS256"),
    }


@dataclass(frozen=True)
class TokenCase:
    method: str
    path: str  # under /api/v1, "{item}" / "{thread}" filled from alice's objects
    body: Callable[[dict[str, str]], Any] | None = None
    control: bool = True  # alice's valid token succeeds (not for streams and run starts)


TOKEN_REST: list[TokenCase] = [
    TokenCase("GET", "/users/me"),
    TokenCase("GET", "/schedule-items/{item}"),
    TokenCase("PATCH", "/schedule-items/{item}", lambda _ids: {"description": "changed"}),
    TokenCase("GET", "/inbox/messages"),
    TokenCase("DELETE", "/friends/{alice}", control=False),
    TokenCase("GET", "/agent/runs/{thread}/history"),
    TokenCase("GET", "/agent/runs/{thread}/runs"),
    TokenCase("GET", "/agent/runs/{thread}/runs/run-1"),
    TokenCase("POST", "/agent/runs/{thread}/cancel", control=False),  # 202, not 200
    TokenCase("POST", "/agent/runs", lambda ids: run_input(ids["thread"], "x"), control=False),
    # Server-sent events: refused before any stream starts.
    TokenCase("GET", "/agent/runs/{thread}/events", control=False),
    TokenCase("POST", "/agent", lambda ids: run_input(ids["thread"], "y"), control=False),
]

TOKEN_GQL = [
    ("{ me { id email } }", {}),
    (f"query($id: ID!) {{ scheduleItem(id: $id) {{ {ITEM} }} }}", {"id": "item"}),
    ("mutation($id: ID!) { deleteScheduleItem(id: $id) }", {"id": "item"}),
]


async def test_bad_tokens_are_401_on_rest_sse_and_graphql(
    api: Api, world: World, bad_tokens: dict[str, str]
) -> None:
    ids = world.ids
    for name, token in bad_tokens.items():
        for case in TOKEN_REST:
            path = V1 + case.path.format(**ids)
            body = case.body(ids) if case.body else None
            r = await api.client.request(case.method, path, headers=bearer(token), json=body)
            label = (name, case.method, case.path)
            _problem(r, 401, str(label))
            assert leaks(r.text, world.secrets, path + str(body)) == [], (label, r.text)
        for document, variables in TOKEN_GQL:
            values = {k: ids[v] for k, v in variables.items()}
            answer = await api.gql(document, values, token)
            codes = [(e.get("extensions") or {}).get("code") for e in _gql_errors(answer)]
            assert codes == ["UNAUTHENTICATED"], (name, document, answer)
            # No data: `null`, or the nullable field itself null.
            assert not any((answer.get("data") or {}).values()), (name, answer)
        r = await api.client.get(
            "/graphql", params={"query": "{ me { id } }"}, headers=bearer(token)
        )
        assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", (name, r.text)
    # The same calls with alice's own token succeed: the refusals above are about the token.
    for case in TOKEN_REST:
        if case.control:
            path = V1 + case.path.format(**ids)
            body = case.body(ids) if case.body else None
            r = await api.client.request(case.method, path, headers=world.alice.auth, json=body)
            assert r.status_code == 200, (case.path, r.text)
    for document, variables in TOKEN_GQL[:2]:
        values = {k: ids[v] for k, v in variables.items()}
        answer = await api.gql(document, values, world.alice.access_token)
        assert _gql_errors(answer) == [], answer


INBOX_SUBSCRIPTION = "subscription { inboxMessages { id content } }"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_bad_tokens_in_connection_init_are_unauthenticated(
    app: Any, world: World, bad_tokens: dict[str, str], protocol: str
) -> None:
    item = world.ids["item"]
    async with live_server(app) as url:
        for name, token in bad_tokens.items():
            for style in ("header", "token"):
                async with gql_socket(url, protocol, auth_payload(token, style)) as socket:
                    op = await socket.subscribe(INBOX_SUBSCRIPTION)
                    assert (await _expect_error(socket, op))[0] == "UNAUTHENTICATED", name
                    op = await socket.subscribe(ITEM_CHANGED, {"id": item})
                    code, payload = await _expect_error(socket, op)
                    assert code == "UNAUTHENTICATED", (name, payload)
                    assert leaks(str(payload), world.secrets, item) == [], payload
        # Control: alice's own token opens her item's stream.
        async with gql_socket(url, protocol, auth_payload(world.alice.access_token)) as socket:
            op = await socket.subscribe(ITEM_CHANGED, {"id": item})
            assert await socket.silent(op, 0.3), "alice's own subscription failed"
