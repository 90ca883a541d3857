"""Attacks with tokens and sessions (issue 11) that the authorization matrix does not already
make (it covers expired, other-key, `alg: none`, revoked and garbage tokens on every door):
tokens whose claims were edited after signing, other HS algorithms with the right key, and
signing out while the session still has live streams open — an SSE stream and a websocket
subscription must both end at once, with nothing delivered after the sign-out."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import jwt
import pytest

from config import Settings
from models import AgentRun
from models.agent import UNFINISHED
from tests.support.agent import (
    ScriptedModel,
    events_url,
    http_base,
    new_thread,
    run_input,
    start_run,
)
from tests.support.agent_stream import sse_connection, wait_for
from tests.support.client import Account, Api
from tests.support.live_server import PROTOCOLS, auth_payload, error_code, gql_socket, live_server

AGENT_EVENTS = "subscription($id: ID!) { agentEvents(threadId: $id) { id type } }"
INBOX = "subscription { inboxMessages { id } }"


@pytest.fixture
def chat_model() -> ScriptedModel:
    return ScriptedModel()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged(token: str, **claims: Any) -> str:
    """`token` with its payload edited and the original signature kept."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, _b64({**decoded, **claims}), signature])


@pytest.fixture
def hostile_tokens(alice: Account, bob: Account, settings: Settings) -> dict[str, str]:
    key = settings.signing_key()
    claims = jwt.decode(alice.access_token, key, algorithms=["HS256"], audience="authenticated")
    bobs = jwt.decode(bob.access_token, key, algorithms=["HS256"], audience="authenticated")
    header = alice.access_token.split(".")[0]
    now = int(time.time())
    return {
        "sub swapped to bob's": forged(alice.access_token, sub=bob.id),
        "sid swapped to bob's": forged(alice.access_token, sid=bobs["sid"]),
        "exp extended": forged(alice.access_token, exp=now + 10**8),
        "role raised": forged(alice.access_token, role="admin"),
        "HS512 with the right key": jwt.encode(claims, key, "HS512"),
        "HS384 with the right key": jwt.encode(claims, key, "HS384"),
        "no aud": jwt.encode({k: v for k, v in claims.items() if k != "aud"}, key, "HS256"),
        "other aud": jwt.encode({**claims, "aud": "service_role"}, key, "HS256"),
        "no sid": jwt.encode({k: v for k, v in claims.items() if k != "sid"}, key, "HS256"),
        "empty signature": ".".join(alice.access_token.split(".")[:2]) + ".",
        "header alg none, signature kept": ".".join(
            [_b64({"alg": "none", "typ": "JWT"}), *alice.access_token.split(".")[1:]]
        ),
        "kid header added, signature kept": ".".join(
            [
                _b64({**json.loads(base64.urlsafe_b64decode(header + "==")), "kid": "../../x"}),
                *alice.access_token.split(".")[1:],
            ]
        ),
    }


async def test_edited_and_foreign_algorithm_tokens_are_401_on_rest_and_graphql(
    api: Api, alice: Account, hostile_tokens: dict[str, str]
) -> None:
    # Control: the token they were made from works.
    assert (await api.rest("GET", "/users/me", alice.access_token)).status_code == 200
    for name, token in hostile_tokens.items():
        r = await api.rest("GET", "/users/me", token)
        assert r.status_code == 401, (name, r.text)
        body = await api.gql("{ me { id email } }", token=token)
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        assert codes == ["UNAUTHENTICATED"] and body.get("data") is None, (name, body)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_edited_tokens_open_no_subscription_over_websockets(
    app: Any, hostile_tokens: dict[str, str], protocol: str
) -> None:
    async with live_server(app) as url:
        for name, token in hostile_tokens.items():
            async with gql_socket(url, protocol, auth_payload(token)) as socket:
                op = await socket.subscribe(INBOX)
                assert error_code(await socket.event(op)) == "UNAUTHENTICATED", name


async def not_running(thread: str) -> bool:
    return not await AgentRun.filter(thread_id=thread, status__in=UNFINISHED).exists()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_signing_out_ends_open_sse_streams_and_subscriptions_at_once(
    api: Api, app: Any, alice: Account, protocol: str
) -> None:
    thread = new_thread()
    await start_run(api, alice, run_input(thread, text="first"))
    await wait_for(lambda: not_running(thread))
    async with live_server(app) as url:
        base = http_base(url)
        async with (
            sse_connection(events_url(base, thread), alice.access_token) as sse,
            gql_socket(url, protocol, auth_payload(alice.access_token)) as socket,
        ):
            await sse.until_runs(1)
            agent_op = await socket.subscribe(AGENT_EVENTS, {"id": thread})
            first = await socket.event(agent_op)
            assert first.kind == "next" and first.data["agentEvents"]["type"] == "RUN_STARTED"
            inbox_op = await socket.subscribe(INBOX)
            assert await socket.silent(inbox_op, 0.3)

            r = await api.rest(
                "DELETE", "/auth/sessions", json={"refresh_token": alice.refresh_token}
            )
            assert r.status_code == 204
            started = time.monotonic()
            # Nothing happens on the thread or in the inbox: the streams end by themselves.
            await sse.read_for(3)
            assert sse.ended, "the SSE stream outlived the sign-out"
            seen: dict[str, str] = {}
            for op in (agent_op, inbox_op):
                async with asyncio.timeout(3):
                    while (event := await socket.event(op)).kind == "next":
                        pass  # the rest of the replayed run, if it was still being sent
                seen[op] = event.kind
            assert set(seen.values()) == {"complete"}, seen
            assert time.monotonic() - started < 3
    # And a new stream with the old token is refused.
    r = await api.rest("GET", f"/agent/runs/{thread}/events", alice.access_token)
    assert r.status_code == 401


@pytest.mark.parametrize("settings_overrides", [{"refresh_reuse_grace_s": 0}], indirect=True)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refresh_reuse_after_the_grace_ends_the_sessions_streams(
    api: Api, app: Any, alice: Account, protocol: str
) -> None:
    # An attacker refreshed with a stolen token and holds a subscription; when the victim later
    # reuses the rotated token, the whole session is revoked and the attacker's stream ends.
    stolen = await api.rest(
        "POST", "/auth/sessions/refresh", json={"refresh_token": alice.refresh_token}
    )
    assert stolen.status_code == 200, stolen.text
    attacker = stolen.json()["access_token"]
    async with (
        live_server(app) as url,
        gql_socket(url, protocol, auth_payload(attacker)) as socket,
    ):
        op = await socket.subscribe(INBOX)
        assert await socket.silent(op, 0.3)
        # The victim's client still holds the rotated token (no grace here: it is over).
        reused = await api.rest(
            "POST", "/auth/sessions/refresh", json={"refresh_token": alice.refresh_token}
        )
        assert reused.status_code == 401, reused.text
        assert (await socket.event(op, 3)).kind == "complete"
    r = await api.rest("GET", "/users/me", attacker)
    assert r.status_code == 401
