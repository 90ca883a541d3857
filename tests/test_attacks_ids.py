"""Stranger ids through the side doors of GraphQL (issue 11): the authorization matrix's cases
(`tests/test_authorization_matrix.py`) sent again aliased twice in one document, packed into
batched POSTs next to the stranger's own legitimate operation, and as queries and mutations
over both websocket protocols. Every door must give the same answer as a plain POST — the same
code or `null`, per alias and per operation — with none of alice's data and nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.client import Account, Api
from tests.support.live_server import PROTOCOLS, auth_payload, gql_socket, live_server
from tests.test_authorization_matrix import (  # the matrix's world and cases, reused as is
    STRANGER_GQL,
    GqlCase,
    World,
    assert_alices_world_is_intact,
    chat_model,
    leaks,
    world,
)

__all__ = ["chat_model", "world"]  # fixtures, imported for pytest


def field_name(case: GqlCase) -> str:
    return case.field.split(".")[1]


def aliased_twice(document: str) -> str:
    """`op($v) { f(...) { … } }` as `op($v) { first: f(...) { … } second: f(...) { … } }`."""
    head, _, rest = document.partition("{")
    selection = rest[: rest.rindex("}")].strip()
    return f"{head}{{ first: {selection} second: {selection} }}"


def outcome(case: GqlCase, body: dict[str, Any], key: str) -> Any:
    """What the stranger got for the field answered under `key`: the error code, or the
    value for the cases that answer data (`null`, a public profile)."""
    data = body.get("data") or {}
    errors = [e for e in body.get("errors") or [] if (e.get("path") or [key])[0] == key]
    if case.expect in ("null", "public"):
        assert errors == [], (case.field, body)
        value = data.get(key)
        return None if value is None else "public"
    assert data.get(key) is None, (case.field, body)
    return [(e.get("extensions") or {}).get("code") for e in errors]


def expected(case: GqlCase) -> Any:
    return {"null": None, "public": "public"}.get(case.expect, [case.expect])


async def test_aliases_get_the_strangers_answer_once_per_alias(
    api: Api, world: World, bob: Account
) -> None:
    for case in STRANGER_GQL:
        variables = case.variables(world)
        body = await api.gql(aliased_twice(case.document), variables, bob.access_token)
        label = (case.field, variables)
        if case.expect in ("null", "public"):
            for alias in ("first", "second"):
                assert outcome(case, body, alias) == expected(case), (label, alias, body)
        else:
            # A non-null field's error nulls the whole answer, and graphql-core may then drop
            # the other alias's error: at least one, all of them the stranger's code, no data.
            codes = [(e.get("extensions") or {}).get("code") for e in body["errors"]]
            assert codes and set(codes) == {case.expect}, (label, body)
            data = body.get("data") or {}
            assert data.get("first") is None and data.get("second") is None, (label, body)
        allowed = (world.alice.id,) if case.expect == "public" else ()
        assert leaks(str(body), world.secrets, str(variables), allowed) == [], (label, body)
    await assert_alices_world_is_intact(world)


OWN_ITEMS = "{ scheduleItems { id title } }"


async def test_batched_stranger_operations_fail_alone_next_to_his_own(
    api: Api, world: World, bob: Account
) -> None:
    # Four stranger operations and bob's own query per POST (within GRAPHQL_MAX_BATCH).
    for start in range(0, len(STRANGER_GQL), 4):
        cases = STRANGER_GQL[start : start + 4]
        batch = [{"query": c.document, "variables": c.variables(world)} for c in cases]
        batch.insert(1, {"query": OWN_ITEMS})
        r = await api.client.post("/graphql", json=batch, headers=bob.auth)
        assert r.status_code == 200, r.text
        answers = r.json()
        assert answers.pop(1) == {"data": {"scheduleItems": []}}
        for case, body in zip(cases, answers, strict=True):
            assert outcome(case, body, field_name(case)) == expected(case), (case.field, body)
            allowed = (world.alice.id,) if case.expect == "public" else ()
            asked = str(case.variables(world))
            assert leaks(str(body), world.secrets, asked, allowed) == [], (case.field, body)
    await assert_alices_world_is_intact(world)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_queries_and_mutations_over_websockets_get_the_strangers_answer(
    app: Any, world: World, bob: Account, protocol: str
) -> None:
    async with (
        live_server(app) as url,
        gql_socket(url, protocol, auth_payload(bob.access_token)) as socket,
    ):
        for case in STRANGER_GQL:
            variables = case.variables(world)
            op = await socket.subscribe(case.document, variables)
            event = await socket.event(op)
            assert event.kind == "next", (case.field, event)
            body = event.payload
            assert outcome(case, body, field_name(case)) == expected(case), (case.field, body)
            assert (await socket.event(op)).kind == "complete"
            allowed = (world.alice.id,) if case.expect == "public" else ()
            assert leaks(str(body), world.secrets, str(variables), allowed) == [], body
    await assert_alices_world_is_intact(world)
