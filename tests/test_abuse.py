"""Abuse (docs/security.md): body size cap, GraphQL document caps on every door, per-user caps
on open streams, handshake timeouts, code guessing bounded across resends, sign-in throttling,
and no account enumeration through sign-up, resend, recovery, sign-in (answers and timing) or
search. Limits are made small through the settings; the websocket message cap is uvicorn's and
is tested against a real `runtime-api serve`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from typing import Any

import argon2
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

import resolvers.verification
from infra.tokens import constant_time_equal
from models import AgentRun, PendingSignup, User
from tests.support.agent import events_url, http_base, new_thread, run_input, start_run
from tests.support.agent_stream import sse_connection, wait_for
from tests.support.client import API, Account, Api
from tests.support.live_server import (
    LEGACY_WS,
    PROTOCOLS,
    TRANSPORT_WS,
    GqlSocket,
    auth_payload,
    error_code,
    gql_socket,
    live_server,
)
from tests.support.mail import MailSink
from tests.support.server_process import ServerProcess, running_server
from tests.support.settings_marks import with_settings
from tests.support.transports import Transport, signup_fields

HEALTH = "{ health { status } }"
INBOX = "subscription { inboxMessages { id } }"
AGENT_EVENTS = "subscription($t: ID!) { agentEvents(threadId: $t) { id type } }"
SIGN_IN_FIELDS = "accessToken"


@pytest.fixture
async def ws_url(app: Any) -> AsyncIterator[str]:
    async with live_server(app) as url:
        yield url


@pytest.fixture
def base(ws_url: str) -> str:
    return http_base(ws_url)


def wrong(code: str, step: int = 1) -> str:
    return f"{(int(code) + step) % 1_000_000:06d}"


def check_problem(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank" and body["status"] == status
    assert body["title"] == HTTPStatus(status).phrase
    assert body["instance"] == path
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_rate_limited(outcome: Any, at_most: int) -> None:
    outcome.expect("RATE_LIMITED")
    assert outcome.retry_after is not None and 1 <= outcome.retry_after <= at_most
    if outcome.transport == "rest":
        assert outcome.status == 429
        assert outcome.headers["retry-after"] == str(outcome.retry_after)


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every Argon2 hash and verification the server computes (the hash verified included)."""
    calls: dict[str, list[str]] = {"hash": [], "verify": []}
    real_hash, real_verify = argon2.PasswordHasher.hash, argon2.PasswordHasher.verify

    def hash_(self: argon2.PasswordHasher, password: str | bytes, **kw: Any) -> str:
        calls["hash"].append(str(password))
        return real_hash(self, password, **kw)

    def verify(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls["verify"].append(str(hash))
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "hash", hash_)
    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return calls


# --- body size cap (MAX_BODY_BYTES) ---------------------------------------------------------

# No in-process agent worker: these tests are over before its Redis receiver has settled, and
# cancelling that receiver mid-start-up can hang the shutdown (infra/run_queue.py, not ours).
SMALL_BODIES = with_settings(max_body_bytes=4096, agent_worker_in_server=False)


def padded_signup(size: int) -> bytes:
    """A valid sign-up body of exactly `size` bytes (JSON allows leading whitespace)."""
    body = json.dumps(signup_fields("padded")).encode()
    assert len(body) <= size
    return b" " * (size - len(body)) + body


@SMALL_BODIES
async def test_a_body_up_to_the_cap_is_read(api: Api) -> None:
    r = await api.client.post(
        f"{API}/auth/verifications",
        content=padded_signup(4096),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 202, r.text


@SMALL_BODIES
@pytest.mark.parametrize("path", [f"{API}/auth/verifications", "/graphql"])
async def test_a_declared_length_over_the_cap_is_413(api: Api, path: str) -> None:
    r = await api.client.post(
        path, content=padded_signup(4097), headers={"content-type": "application/json"}
    )
    body = check_problem(r, 413, path)
    assert "4096" in body["detail"]
    assert r.headers["x-request-id"]  # inside the request-id middleware
    assert not await PendingSignup.exists()


async def _chunks(total: int, size: int = 1000) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


@SMALL_BODIES
@pytest.mark.parametrize("path", [f"{API}/auth/verifications", "/graphql"])
async def test_a_chunked_body_is_counted_as_it_streams(api: Api, path: str) -> None:
    r = await api.client.post(
        path, content=_chunks(10_000), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers  # chunked: no declared length
    check_problem(r, 413, path)


@SMALL_BODIES
async def test_an_oversized_graphql_document_never_runs(api: Api, argon2_calls: Any) -> None:
    query = 'mutation { signIn(input: {email: "a@example.com", password: "x"}) { accessToken } }'
    padded = {"query": query, "variables": {"pad": "x" * 5000}}
    r = await api.client.post(
        "/graphql", content=json.dumps(padded), headers={"content-type": "application/json"}
    )
    check_problem(r, 413, "/graphql")
    assert argon2_calls["verify"] == []


@SMALL_BODIES
async def test_a_declared_length_is_refused_before_a_byte_is_read(app: Any) -> None:
    """Straight at the ASGI app: `receive` is never called for an over-cap Content-Length."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-length", b"1000000000")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]


# --- the real server: uvicorn's websocket message cap, chunked bodies over a socket, ---------
# --- and the handshake timeout as configured from the environment -----------------------------

REAL_BODY_CAP = 65536


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    cwd = tmp_path_factory.mktemp("abuse") / "empty"
    env = {"MAX_BODY_BYTES": str(REAL_BODY_CAP), "WS_CONNECTION_INIT_TIMEOUT_S": "1"}
    with running_server(cwd, env=env) as s:
        yield s


@contextlib.asynccontextmanager
async def raw_socket(url: str, protocol: str) -> AsyncIterator[Any]:
    async with connect(
        url, subprotocols=[Subprotocol(protocol)], open_timeout=5, close_timeout=1, max_size=None
    ) as ws:
        yield ws


async def test_real_server_caps_websocket_messages_at_1_mib(server: ServerProcess) -> None:
    async with raw_socket(f"{server.ws_url}/graphql", TRANSPORT_WS) as ws:
        gql = GqlSocket(ws, TRANSPORT_WS)
        await gql.init({})
        # Just under the cap: whitespace is free, the operation runs.
        message = {"id": "ok", "type": "subscribe", "payload": {"query": HEALTH}}
        text = json.dumps(message)
        under = text[:-1] + " " * ((1 << 20) - len(text.encode()) - 100) + "}"
        await ws.send(under)
        assert (await gql.event("ok")).data == {"health": {"status": "healthy"}}
        assert (await gql.event("ok")).kind == "complete"
        # Over it: the server closes the socket with 1009 (message too big).
        await ws.send(text[:-1] + " " * (1 << 20) + "}")
        with pytest.raises(ConnectionClosed) as closed:
            got = await asyncio.wait_for(ws.recv(), 5)
            raise AssertionError(f"answered {got[:200]!r}")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_real_server_counts_a_chunked_body(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        r = await client.post(
            "/graphql",
            content=_chunks(REAL_BODY_CAP + 4096, 4096),
            headers={"content-type": "application/json"},
        )
        check_problem(r, 413, "/graphql")
        # A body within the cap is served as usual (on a new connection: the 413 closed it).
        r = await client.post("/graphql", json={"query": HEALTH})
        assert r.status_code == 200 and r.json()["data"]["health"]["status"] == "healthy"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_real_server_closes_sockets_that_never_initialise(
    server: ServerProcess, protocol: str
) -> None:
    async with raw_socket(f"{server.ws_url}/graphql", protocol) as ws:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
        assert 0.8 < time.monotonic() - started < 5


# --- handshake timeout (WS_CONNECTION_INIT_TIMEOUT_S) -----------------------------------------


@with_settings(ws_connection_init_timeout_s=0.5)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_without_connection_init_is_closed_with_4408(
    ws_url: str, protocol: str
) -> None:
    async with raw_socket(ws_url, protocol) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


@with_settings(ws_connection_init_timeout_s=0.5)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_initialised_socket_outlives_the_handshake_timeout(
    ws_url: str, protocol: str
) -> None:
    async with gql_socket(ws_url, protocol) as socket:
        await asyncio.sleep(1.0)
        op = await socket.subscribe(HEALTH)
        assert (await socket.event(op)).data == {"health": {"status": "healthy"}}


# --- GraphQL document caps on every door (HTTP POST is tested in test_graphql_transport) ----


def aliases(count: int, field: str = "health { status }") -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


TOO_DEEP = "{ health { status } inboxMessages { scheduleItem { subscribers { user { id } } } } }"


@with_settings(graphql_max_depth=3, graphql_max_aliases=5, graphql_max_tokens=200)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_caps_hold_over_websockets(
    api: Api, app: Any, ws_url: str, protocol: str, health_calls: list[int]
) -> None:
    ann = await api.quick_user()
    over = {
        "depth": TOO_DEEP,
        "alias": aliases(6),
        "subscription depth": "subscription { inboxMessages { scheduleItem { subscribers "
        "{ user { id } } } } }",
    }
    async with gql_socket(ws_url, protocol, auth_payload(ann.access_token)) as socket:
        for what, document in over.items():
            op = await socket.subscribe(document)
            event = await socket.event(op)
            assert error_code(event) == "BAD_REQUEST", (what, event)
        assert health_calls == []
        assert app.state.stream_caps.open_streams(ann.id) == 0  # a refused subscription held none
        op = await socket.subscribe(aliases(5))
        assert len((await socket.event(op)).data) == 5
    assert len(health_calls) == 5


@with_settings(graphql_max_tokens=200)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_token_cap_holds_over_websockets(
    ws_url: str, protocol: str, health_calls: list[int]
) -> None:
    """The token cap aborts parsing: a syntax error, which `graphql-transport-ws` answers by
    closing the socket (4400); the legacy protocol answers the operation with an error."""
    document = "{ health { status } " + "__typename " * 300 + "}"
    async with gql_socket(ws_url, protocol) as socket:
        op = await socket.subscribe(document)
        if protocol == TRANSPORT_WS:
            with pytest.raises(ConnectionClosed) as closed:
                await socket.event(op)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
            assert "tokens" in closed.value.rcvd.reason
        else:
            event = await socket.event(op)
            assert error_code(event) == "BAD_REQUEST"
            assert "tokens" in event.errors[0]["message"]
    assert health_calls == []


@with_settings(graphql_max_aliases=5)
async def test_caps_hold_over_get(api: Api, health_calls: list[int]) -> None:
    r = await api.client.get("/graphql", params={"query": aliases(6)})
    body = r.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
    assert health_calls == []


@with_settings(graphql_max_aliases=5)
async def test_caps_apply_to_each_operation_of_a_batch(api: Api, health_calls: list[int]) -> None:
    r = await api.client.post("/graphql", json=[{"query": aliases(5)}, {"query": aliases(6)}])
    first, second = r.json()
    assert "errors" not in first and len(first["data"]) == 5
    assert second["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert len(health_calls) == 5  # the refused operation ran nothing


@with_settings(graphql_max_aliases=5)
async def test_an_aliased_mutation_over_the_cap_signs_in_nobody(
    api: Api, argon2_calls: Any
) -> None:
    sign_in = 'signIn(input: {email: "a@example.com", password: "guess"}) { accessToken }'
    body = await api.gql("mutation " + aliases(6, sign_in))
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
    assert argon2_calls["verify"] == []


# --- per-user caps on open streams (MAX_STREAMS_PER_USER) -------------------------------------

TWO_STREAMS = with_settings(max_streams_per_user=2, agent_sse_keepalive_s=0.2)


def open_streams(app: Any, account: Account) -> int:
    count: int = app.state.stream_caps.open_streams(account.id)
    return count


@TWO_STREAMS
async def test_sse_streams_over_the_cap_are_429(api: Api, app: Any, base: str) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    async with (
        sse_connection(events_url(base, new_thread()), ann.access_token) as one,
        sse_connection(events_url(base, new_thread()), ann.access_token) as two,
    ):
        assert one.status == two.status == 200
        path = f"{API}/agent/runs/{new_thread()}/events"
        async with sse_connection(base + path, ann.access_token) as three:
            await three.response.aread()
            body = check_problem(three.response, 429, path)
            assert 1 <= int(three.response.headers["retry-after"]) <= 60, body
        # The plain AG-UI transport counts too, and over the cap it starts no run.
        r = await api.rest("POST", "/agent", ann.access_token, json=run_input(new_thread(), "r"))
        check_problem(r, 429, f"{API}/agent")
        assert int(r.headers["retry-after"]) >= 1
        assert not await AgentRun.exists()
        # Per user: bob is not affected.
        async with sse_connection(events_url(base, new_thread()), bob.access_token) as other:
            assert other.status == 200
        # The open streams still work.
        await one.read(lambda c: c.comments >= 1, 5)
        await two.read(lambda c: c.comments >= 1, 5)
    # Leaving releases the slots: new streams are accepted again.
    await wait_for(lambda: open_streams(app, ann) == 0)
    async with (
        sse_connection(events_url(base, new_thread()), ann.access_token) as one,
        sse_connection(events_url(base, new_thread()), ann.access_token) as two,
    ):
        assert one.status == two.status == 200


@TWO_STREAMS
async def test_refused_and_finished_streams_hold_no_slot(api: Api, app: Any, base: str) -> None:
    ann, bob = await api.quick_user(), await api.quick_user()
    bobs = new_thread()
    await start_run(api, bob, run_input(bobs, text="hello"))
    for _ in range(3):
        async with sse_connection(events_url(base, bobs), ann.access_token) as forbidden:
            assert forbidden.status == 403
        async with sse_connection(
            events_url(base, new_thread()), ann.access_token, last_event_id="nope"
        ) as malformed:
            assert malformed.status == 422
    await wait_for(lambda: open_streams(app, ann) == 0)
    # A plain AG-UI run ends its response with the run: the slot goes back.
    for _ in range(3):
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(
                f"{base}{API}/agent", json=run_input(new_thread(), text="hi"), headers=ann.auth
            )
            assert r.status_code == 200 and "RUN_FINISHED" in r.text
    await wait_for(lambda: open_streams(app, ann) == 0)


@TWO_STREAMS
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_share_the_cap_with_sse(
    api: Api, app: Any, ws_url: str, base: str, protocol: str
) -> None:
    ann = await api.quick_user()
    async with sse_connection(events_url(base, new_thread()), ann.access_token) as sse:
        assert sse.status == 200
        async with gql_socket(ws_url, protocol, auth_payload(ann.access_token)) as socket:
            first = await socket.subscribe(INBOX)
            await wait_for(lambda: open_streams(app, ann) == 2)
            for document, variables in ((INBOX, None), (AGENT_EVENTS, {"t": new_thread()})):
                refused = await socket.subscribe(document, variables)
                event = await socket.event(refused)
                assert error_code(event) == "RATE_LIMITED", event
                assert event.errors[0]["extensions"]["retryAfter"] >= 1
            assert await socket.silent(first, 0.3)  # the first subscription goes on
            # Stopping a subscription frees its slot.
            await socket.stop(first)
            await wait_for(lambda: open_streams(app, ann) == 1)
            again = await socket.subscribe(INBOX)
            await wait_for(lambda: open_streams(app, ann) == 2)
            assert await socket.silent(again, 0.3)
        # Closing the socket frees the slots of its subscriptions.
        await wait_for(lambda: open_streams(app, ann) == 1)
    await wait_for(lambda: open_streams(app, ann) == 0)


@with_settings(max_streams_per_user=1)
async def test_a_refused_subscription_holds_no_slot(api: Api, app: Any, ws_url: str) -> None:
    ann = await api.quick_user()
    async with gql_socket(ws_url, LEGACY_WS, auth_payload(ann.access_token)) as socket:
        for _ in range(3):
            op = await socket.subscribe(
                "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind } }",
                {"id": "00000000-0000-0000-0000-000000000000"},
            )
            assert error_code(await socket.event(op)) == "NOT_FOUND"
        # (A slot given back counts until Redis has forgotten it: a moment.)
        await wait_for(lambda: open_streams(app, ann) == 0)
        op = await socket.subscribe(INBOX)
        await wait_for(lambda: open_streams(app, ann) == 1)


# --- verification codes: guesses bounded across resends ---------------------------------------


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every comparison of a submitted code with a stored one."""
    calls: list[int] = []

    def counting(a: str, b: str) -> bool:
        calls.append(1)
        return constant_time_equal(a, b)

    monkeypatch.setattr(resolvers.verification, "constant_time_equal", counting)
    return calls


@with_settings(
    rate_limit_code_interval="100/minute",
    rate_limit_code_email_hourly="100/hour",
    rate_limit_verify_email="7/hour",
)
async def test_code_guesses_are_bounded_across_resends(
    t: Transport, mail: MailSink, comparisons: list[int]
) -> None:
    """Each code allows 5 tries and a resend brings a fresh one, but the per-email verify
    limit caps the guesses of all codes together: after it, even the right code is 429."""
    email = "bob@example.com"
    (await t.request_signup(**signup_fields("bob"))).expect_ok()
    answers = []
    for round_ in range(5):
        if round_:
            (await t.resend(email)).expect_ok()
        code = await mail.code_for(email, round_ + 1)
        for step in range(1, 4):
            answers.append((await t.verify_signup(email, wrong(code, step))).code)
    assert answers == ["UNAUTHENTICATED"] * 7 + ["RATE_LIMITED"] * 8
    assert len(comparisons) == 7
    assert_rate_limited(await t.verify_signup(email, code), 3600)
    assert len(comparisons) == 7
    assert not await User.filter(email_key=email).exists()


async def test_with_the_defaults_an_hour_allows_at_most_15_comparisons(
    api: Api, app: Any, mail: MailSink, comparisons: list[int]
) -> None:
    """The defaults: 6 codes an hour (5 tries each) but 15 checks an hour per email."""
    services = app.state.services
    email = "bob@example.com"
    (await Transport(api, "rest").request_signup(**signup_fields("bob"))).expect_ok()
    for round_ in range(6):
        code = await mail.code_for(email, round_ + 1)
        for step in range(1, 6):
            body = {"type": "signup", "email": email, "token": wrong(code, step)}
            r = await api.rest("POST", "/auth/verify", json=body)
            assert r.status_code in (401, 429)
        # Skip the 60 s between codes, as if a minute had passed; the hourly caps stay.
        await services.limiter.reset(
            services.settings.rate_limit_code_interval, "code", "signup", email
        )
        r = await api.rest("POST", "/auth/resend", json={"type": "signup", "email": email})
        assert r.status_code == (204 if round_ < 5 else 429), r.text  # 7th code of the hour
    assert len(comparisons) == 15


@with_settings(rate_limit_verify_email="4/hour")  # alice's own sign-up spent one
async def test_recovery_and_signup_guesses_share_the_budget(
    t: Transport, api: Api, mail: MailSink
) -> None:
    alice = await api.sign_up("alice", "alice@example.com", password="alice password")
    (await t.resend(alice.email, "recovery")).expect_ok()
    code = await mail.code_for(alice.email, 2)
    for step in range(1, 4):
        (await t.verify_recovery(alice.email, wrong(code, step), "new password")).expect(
            "UNAUTHENTICATED"
        )
    assert_rate_limited(await t.verify_recovery(alice.email, code, "new password"), 3600)
    assert_rate_limited(await t.verify_signup(alice.email, "123456"), 3600)


@with_settings(rate_limit_verify_email="3 per 2 seconds")
async def test_the_right_code_works_again_once_the_window_passed(
    t: Transport, mail: MailSink
) -> None:
    email = "bob@example.com"
    (await t.request_signup(**signup_fields("bob"))).expect_ok()
    code = await mail.code_for(email)
    for step in range(1, 4):
        (await t.verify_signup(email, wrong(code, step))).expect("UNAUTHENTICATED")
    refused = await t.verify_signup(email, code)
    assert_rate_limited(refused, 2)
    await asyncio.sleep((refused.retry_after or 2) + 0.2)
    (await t.verify_signup(email, code)).expect_ok()  # 3 tries spent of 5: still valid


# --- sign-in throttling -----------------------------------------------------------------------


@pytest.fixture
async def alice(api: Api) -> Account:
    return await api.sign_up("alice", "alice@example.com", password="alice password")


@with_settings(rate_limit_login_email="3 per 15 minutes")
async def test_sign_in_failures_count_across_transports(api: Api, alice: Account) -> None:
    rest, gql = Transport(api, "rest"), Transport(api, "graphql")
    (await rest.sign_in(alice.email, "wrong password")).expect("UNAUTHENTICATED")
    (await gql.sign_in(alice.email, "wrong password")).expect("UNAUTHENTICATED")
    (await rest.sign_in(alice.email, "wrong password")).expect("UNAUTHENTICATED")
    assert_rate_limited(await gql.sign_in(alice.email, alice.password), 900)
    assert_rate_limited(await rest.sign_in(alice.email, alice.password), 900)


@with_settings(rate_limit_login_email="2 per 2 seconds")
async def test_sign_in_works_again_once_the_window_passed(t: Transport, alice: Account) -> None:
    for _ in range(2):
        (await t.sign_in(alice.email, "wrong password")).expect("UNAUTHENTICATED")
    refused = await t.sign_in(alice.email, alice.password)
    assert_rate_limited(refused, 2)
    await asyncio.sleep((refused.retry_after or 2) + 0.2)
    (await t.sign_in(alice.email, alice.password)).expect_ok()


@with_settings(rate_limit_login_email="2 per 15 minutes")
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_sign_in_over_a_websocket_is_throttled_alike(
    api: Api, alice: Account, ws_url: str, protocol: str
) -> None:
    """Both websocket protocols run mutations too: they count against the same limits."""
    mutation = (
        "mutation($p: String!) { signIn(input: "
        f'{{email: "{alice.email}", password: $p}}) {{ {SIGN_IN_FIELDS} }} }}'
    )
    async with gql_socket(ws_url, protocol) as socket:
        for _ in range(2):
            op = await socket.subscribe(mutation, {"p": "wrong password"})
            assert error_code(await socket.event(op)) == "UNAUTHENTICATED"
        op = await socket.subscribe(mutation, {"p": alice.password})
        event = await socket.event(op)
        assert error_code(event) == "RATE_LIMITED"
        assert 1 <= event.errors[0]["extensions"]["retryAfter"] <= 900
    r = await api.rest(
        "POST", "/auth/sessions", json={"email": alice.email, "password": alice.password}
    )
    assert r.status_code == 429


# --- no account enumeration -------------------------------------------------------------------


def comparable(outcome: Any) -> Any:
    """What a client sees of an answer, minus what differs per request."""
    if outcome.transport == "rest":
        headers = {k: v for k, v in outcome.headers.items() if k not in ("x-request-id", "date")}
        raw = outcome.raw if isinstance(outcome.raw, dict) else None
        return outcome.status, headers, raw
    return outcome.ok, outcome.code, outcome.detail


@with_settings(rate_limit_code_interval="100/minute")  # alice's own sign-up just had a code
@pytest.mark.usefixtures("alice")
async def test_signup_answers_alike_for_a_taken_and_a_free_email(
    t: Transport, argon2_calls: Any
) -> None:
    argon2_calls["hash"].clear()
    taken = await t.request_signup(**signup_fields("someone", "Alice@Example.com"))
    free = await t.request_signup(**signup_fields("someone", "Nobody@Example.com"))
    # Echoed alike (the domain normalised), whether or not the address has an account.
    assert taken.expect_ok() == {"email": "Alice@example.com"}
    assert free.expect_ok() == {"email": "Nobody@example.com"}
    if t.kind == "rest":
        assert taken.status == free.status == 202
        strip = ("x-request-id", "date", "content-length")
        assert {k: v for k, v in taken.headers.items() if k not in strip} == {
            k: v for k, v in free.headers.items() if k not in strip
        }
    # Both paths hash the password once: the same work either way.
    assert len(argon2_calls["hash"]) == 2


@with_settings(rate_limit_code_interval="100/minute")
async def test_resend_and_recovery_answer_alike_whoever_asks(t: Transport, alice: Account) -> None:
    (await t.request_signup(**signup_fields("pending"))).expect_ok()
    for kind in ("signup", "recovery"):
        answers = [
            comparable(await t.resend(email, kind))
            for email in (alice.email, "pending@example.com", "nobody@example.com")
        ]
        assert answers[0] == answers[1] == answers[2], (kind, answers)
        if t.kind == "rest":
            assert answers[0][0] == 204


async def test_sign_in_failures_are_alike_and_all_run_argon2(
    t: Transport, alice: Account, argon2_calls: Any
) -> None:
    (await t.request_signup(**signup_fields("pending"))).expect_ok()
    argon2_calls["verify"].clear()
    failures = [
        await t.sign_in(alice.email, "wrong password"),
        await t.sign_in("nobody@example.com", "alice password"),
        await t.sign_in("pending@example.com", "secret"),
    ]
    for outcome in failures:
        outcome.expect("UNAUTHENTICATED")
    assert len({(o.code, o.detail) for o in failures}) == 1
    if t.kind == "rest":
        statuses = {(o.status, o.headers.get("www-authenticate")) for o in failures}
        assert statuses == {(401, "Bearer")}
    # One real Argon2 verification per attempt, the unknown email's against a dummy hash made
    # with the same parameters as real ones (a cheaper dummy would show in the timing).
    verified = argon2_calls["verify"]
    assert len(verified) == 3
    user = await User.get(email_key=alice.email)
    assert verified[0] == user.password_hash
    assert verified[1] == verified[2] != user.password_hash
    assert argon2.extract_parameters(verified[1]) == argon2.extract_parameters(user.password_hash)


@with_settings(
    argon2_time_cost=2,
    argon2_memory_cost_kib=19456,
    rate_limit_login_email="1000 per 15 minutes",
    rate_limit_login_ip="1000 per 15 minutes",
)
async def test_sign_in_timing_does_not_tell_unknown_emails(api: Api, alice: Account) -> None:
    """Production Argon2 parameters; interleaved attempts and medians, with a generous factor,
    so a busy machine does not make it flaky: a missing dummy check would be 10x faster."""

    async def timed(email: str) -> float:
        started = time.perf_counter()
        body = {"email": email, "password": "not the password"}
        r = await api.rest("POST", "/auth/sessions", json=body)
        assert r.status_code == 401
        return time.perf_counter() - started

    known: list[float] = []
    unknown: list[float] = []
    await timed(alice.email)  # warm up
    for i in range(11):
        known.append(await timed(alice.email))
        unknown.append(await timed(f"nobody{i}@example.com"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (known, unknown)


async def test_email_search_reveals_only_exact_confirmed_matches(
    t: Transport, api: Api, alice: Account
) -> None:
    bob = await api.quick_user("bob")
    (await t.request_signup(**signup_fields("pending"))).expect_ok()
    assert [u["id"] for u in (await t.search_users(bob.access_token, "ALICE@example.com")).data]
    probes = [
        "alice@example.co",
        "lice@example.com",
        "%@example.com",
        "_lice@example.com",
        "alice@%",
        "@example.com",
        "pending@example.com",  # not confirmed
        "nobody@example.com",
    ]
    for probe in probes:
        assert (await t.search_users(bob.access_token, probe)).expect_ok() == [], probe
    (await t.search_users(None, alice.email)).expect("UNAUTHENTICATED")


async def test_user_by_email_of_others_is_forbidden_whether_or_not_they_exist(
    api: Api, alice: Account
) -> None:
    bob = await api.quick_user("bob")
    query = "query($e: String!) { userByEmail(email: $e) { id } }"
    answers = []
    for email in (alice.email, "nobody@example.com"):
        body = await api.gql(query, {"e": email}, token=bob.access_token)
        error = body["errors"][0]
        answers.append((error["extensions"]["code"], error["message"]))
        r = await api.client.get(f"{API}/auth/users", params={"email": email}, headers=bob.auth)
        answers.append((r.status_code, r.json()["detail"]))
    assert answers[0] == answers[2] and answers[0][0] == "FORBIDDEN"
    assert answers[1] == answers[3] and answers[1][0] == 403
