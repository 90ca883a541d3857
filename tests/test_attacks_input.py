"""Attacks with hostile input (issue 11): deep and wide JSON in `metadata`, text that spoofs or
cannot be stored, LIKE wildcards in search, and GraphQL documents built to cost the parser or
validator a lot. Each must be refused cleanly (422 / BAD_USER_INPUT / BAD_REQUEST) or stored
as sent — never a 500, a RecursionError or unbounded work."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.calendar_api import PROBLEM, create_item
from tests.support.client import Account, Api
from tests.support.live_server import (
    PROTOCOLS,
    TRANSPORT_WS,
    auth_payload,
    gql_socket,
    live_server,
)

ITEM = {"title": "Item", "start_at": "2026-03-01T09:00:00Z"}
REFUSED = {"BAD_USER_INPUT", "BAD_REQUEST"}
CREATE = "mutation($input: CreateScheduleItemInput!) { createScheduleItem(input: $input) { id } }"


def deep(depth: int) -> str:
    """`{"a":{"a":…}}` nested `depth` levels, as raw JSON (json.dumps itself would recurse)."""
    return '{"a":' * depth + "1" + "}" * depth


def codes(body: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


@pytest.mark.parametrize("depth", [40, 900, 1_000, 10_000])
async def test_deeply_nested_metadata_is_refused_over_rest(
    api: Api, alice: Account, depth: int
) -> None:
    body = '{"title": "Item", "start_at": "2026-03-01T09:00:00Z", "metadata": ' + deep(depth) + "}"
    r = await api.rest(
        "POST",
        "/schedule-items",
        alice.access_token,
        content=body,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("depth", [40, 900, 1_000, 10_000])
async def test_deeply_nested_metadata_is_refused_over_graphql(
    api: Api, alice: Account, depth: int
) -> None:
    variables = '{"input": {"title": "Item", "startAt": "2026-03-01T09:00:00Z", "metadata": '
    body = '{"query": "' + CREATE.replace('"', '\\"') + '", "variables": ' + variables
    body += deep(depth) + "}}}"
    r = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json", **alice.auth}
    )
    if depth < 1_000:  # the variable is read, then refused by validation
        assert r.status_code in (200, 400), r.text
        assert codes(r.json()) and set(codes(r.json())) <= REFUSED, r.text
    else:  # too deep to parse: refused like any unreadable body (it was a RecursionError, 500)
        assert r.status_code == 400, r.text
        assert "parse" in r.text


@pytest.mark.parametrize("shape", ["list", "dict", "nested"])
async def test_ten_thousand_element_metadata_is_refused_on_both_doors(
    api: Api, alice: Account, shape: str
) -> None:
    wide: Any = {
        "list": {"tags": list(range(10_000))},
        "dict": {f"k{i}": i for i in range(10_000)},
        "nested": {"a": [[i] for i in range(10_000)]},
    }[shape]
    started = time.monotonic()
    r = await api.rest(
        "POST", "/schedule-items", alice.access_token, json={**ITEM, "metadata": wide}
    )
    assert r.status_code == 422 and "16 KiB" in r.text, r.text
    body = await api.gql(
        CREATE,
        {"input": {"title": "Item", "startAt": ITEM["start_at"], "metadata": wide}},
        alice.access_token,
    )
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert time.monotonic() - started < 5
    assert (await api.rest("GET", "/schedule-items", alice.access_token)).json() == []


async def test_metadata_within_the_caps_is_stored_as_sent(api: Api, alice: Account) -> None:
    odd = {"deep": deep_value(30), "text": "\u202eevil\u200d", "list": list(range(2_000))}
    item = await create_item(api, alice, metadata=odd)
    r = await api.rest("GET", f"/schedule-items/{item['id']}", alice.access_token)
    assert r.json()["metadata"] == odd


def deep_value(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


BAD_TEXT = {"NUL": "a\x00b", "lone surrogate": "a\ud800b"}


@pytest.mark.parametrize("name", sorted(BAD_TEXT))
async def test_unstorable_text_is_refused_in_titles_and_usernames(
    api: Api, alice: Account, name: str
) -> None:
    text = BAD_TEXT[name]
    # Sent as raw JSON escapes: httpx would refuse to encode a lone surrogate.
    escaped = json_escape(text)
    raw = f'{{"title": "{escaped}", "start_at": "2026-03-01T09:00:00Z"}}'
    r = await api.rest(
        "POST",
        "/schedule-items",
        alice.access_token,
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    raw = f'{{"username": "x{escaped}y"}}'
    r = await api.rest(
        "PATCH",
        "/users/me",
        alice.access_token,
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    query = "mutation($u: String!) { updateMe(input: {username: $u}) { username } }"
    quoted = query.replace('"', '\\"')
    raw = f'{{"query": "{quoted}", "variables": {{"u": "x{escaped}y"}}}}'
    r = await api.client.post(
        "/graphql", content=raw, headers={"content-type": "application/json", **alice.auth}
    )
    assert codes(r.json()) == ["BAD_USER_INPUT"], r.text


def json_escape(text: str) -> str:
    """`text` as JSON string content with every non-ASCII character \\u-escaped (so that a lone
    surrogate travels as the JSON escape an attacker would send)."""
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)


SPOOFING = {
    "right-to-left override": "ann\u202egnp",
    "left-to-right mark": "ann\u200e",
    "zero-width joiner": "ann\u200d",
    "zero-width non-joiner": "a\u200cnn",
    "zero-width space": "a\u200bnn",
    "first-strong isolate": "\u2068ann",
    "byte order mark": "\ufeffann",
}


@pytest.mark.parametrize("label", sorted(SPOOFING))
async def test_invisible_and_bidi_characters_are_refused_in_usernames(
    api: Api, alice: Account, label: str
) -> None:
    name = SPOOFING[label]
    r = await api.rest("PATCH", "/users/me", alice.access_token, json={"username": name})
    assert r.status_code == 422, (label, r.text)
    body = await api.gql(
        "mutation($u: String!) { updateMe(input: {username: $u}) { username } }",
        {"u": name},
        alice.access_token,
    )
    assert codes(body) == ["BAD_USER_INPUT"], (label, body)
    r = await api.rest(
        "POST",
        "/auth/verifications",
        json={"username": name, "email": "spoof@example.com", "password": "correct horse"},
    )
    assert r.status_code == 422, (label, r.text)
    assert (await api.rest("GET", "/users/me", alice.access_token)).json()["username"] == "alice"


async def test_scripts_and_marks_in_usernames_stay_allowed(api: Api, alice: Account) -> None:
    # Letters of any script, with their combining marks, are names people have.
    for name in ("हिन्दी", "anń", "李雷雷"):
        r = await api.rest("PATCH", "/users/me", alice.access_token, json={"username": name})
        assert r.status_code == 200 and r.json()["username"] == name, r.text


async def test_bidi_marks_in_titles_are_stored_as_sent(api: Api, alice: Account) -> None:
    # Titles are free text: Arabic and Hebrew need direction marks, so they are kept verbatim
    # (clients render them in an isolated span).
    title = "\u202bשלום\u202c \u2067meeting\u2069 \u200f"
    item = await create_item(api, alice, title=title)
    assert item["title"] == title
    body = await api.gql(
        "query($id: ID!) { scheduleItem(id: $id) { title } }",
        {"id": item["id"]},
        alice.access_token,
    )
    assert body["data"]["scheduleItem"]["title"] == title


# --- GraphQL documents built to cost the server ---------------------------------------------


async def post_graphql(api: Api, alice: Account, body: Any) -> tuple[int, Any, float]:
    started = time.monotonic()
    r = await api.client.post("/graphql", json=body, headers=alice.auth)
    return (
        r.status_code,
        r.json() if r.status_code in (200, 400) else r.text,
        (time.monotonic() - started),
    )


@pytest.mark.parametrize(
    "document",
    [
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ ...A } fragment A on Query { me { id } ...A }",
        "query { me { ...F } } fragment F on Me { id ...G } fragment G on Me { ...F }",
    ],
    ids=["two-cycle", "self", "nested"],
)
async def test_fragment_cycles_are_bad_requests(api: Api, alice: Account, document: str) -> None:
    status, body, seconds = await post_graphql(api, alice, {"query": document})
    assert status in (200, 400), body
    assert codes(body) and set(codes(body)) == {"BAD_REQUEST"}, body
    assert seconds < 2


async def test_thousands_of_repeated_directives_are_refused_fast(api: Api, alice: Account) -> None:
    directives = " @include(if: true)" * 5_000
    _, body, seconds = await post_graphql(api, alice, {"query": f"{{ me {{ id{directives} }} }}"})
    # The token cap refuses it before it is even parsed whole: one error.
    assert codes(body) == ["BAD_REQUEST"], body
    assert seconds < 2
    # Fewer than the token cap allows are refused by validation (a directive may appear once
    # there), and graphql-core stops at 100 errors, so the answer stays bounded too.
    directives = " @include(if: true)" * 350
    _, body, seconds = await post_graphql(api, alice, {"query": f"{{ me {{ id{directives} }} }}"})
    assert set(codes(body)) == {"BAD_REQUEST"} and len(codes(body)) <= 101, body
    assert body["data"] is None and seconds < 2


@pytest.mark.parametrize("shape", ["one string", "many keys", "long list"])
async def test_a_900_kb_variables_object_is_refused_fast(
    api: Api, alice: Account, shape: str
) -> None:
    shapes: dict[str, dict[str, Any]] = {
        "one string": {"input": {"title": "x" * 900_000, "startAt": ITEM["start_at"]}},
        "many keys": {f"v{i}": "x" * 10 for i in range(40_000)},
        "long list": {
            "input": {
                "title": "t",
                "startAt": ITEM["start_at"],
                "metadata": {"l": ["x" * 8] * 80_000},
            }
        },
    }
    variables = shapes[shape]
    status, body, seconds = await post_graphql(
        api, alice, {"query": CREATE, "variables": variables}
    )
    assert status in (200, 400), body
    assert codes(body) and set(codes(body)) <= REFUSED, str(body)[:500]
    assert seconds < 3, seconds
    assert (await api.rest("GET", "/schedule-items", alice.access_token)).json() == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_deeply_nested_websocket_message_closes_only_that_socket(
    app: Any, alice: Account, protocol: str
) -> None:
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    payload = '{"query": "subscription { inboxMessages { id } }", "variables": {"v": '
    message = f'{{"id": "1", "type": "{kind}", "payload": {payload}{deep(10_000)}}}}}}}'
    async with live_server(app) as url:
        async with gql_socket(url, protocol, auth_payload(alice.access_token)) as socket:
            await socket.ws.send(message)
            if protocol == TRANSPORT_WS:
                # An unreadable message: the protocol's 4400, for this socket only.
                with pytest.raises(ConnectionClosed) as closed:
                    async with asyncio.timeout(5):
                        while True:
                            await socket.ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
            else:
                # The legacy protocol ignores messages it cannot parse; the socket goes on.
                op = await socket.subscribe("query { me { id } }")
                assert (await socket.event(op)).data == {"me": {"id": alice.id}}
        # The server goes on serving the next socket.
        async with gql_socket(url, protocol, auth_payload(alice.access_token)) as socket:
            op = await socket.subscribe("query { me { id } }")
            assert (await socket.event(op)).data == {"me": {"id": alice.id}}
