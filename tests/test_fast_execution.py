"""The fast completion path (schema/fast_execution.py) answers exactly what graphql-core would.

Every query runs through the real app as served, and again through graphql-core's own completion,
both ways it can be had: an app with GRAPHQL_FAST_EXECUTION=false on the same database, and the
same app with every plan of the fast path refused (so its fallbacks complete everything). The
responses must be equal. Spies prove that the fast path did the work where it should, and that
the setting really swaps it out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from config import Settings
from schema.fast_execution import FastExecutor
from server.app import create_app
from tests.support.client import Account, Api
from tests.support.mail import MailSink

# A GraphQL request as a viewer: (query, variables, access token) -> response body.
Ask = Callable[[str, dict[str, Any], str], Awaitable[dict[str, Any]]]

ITEM_FIELDS = (
    "id title description startAt endAt timezone status sourceType metadata permission "
    "createdAt updatedAt owner { id username avatarUrl bio }"
)

QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("the bench's list", f"{{ scheduleItems {{ {ITEM_FIELDS} }} }}", {}),
    (
        "aliases, __typename and a fragment",
        """query {
          mine: scheduleItems { __typename key: id ...Parts owner { __typename name: username } }
        }
        fragment Parts on ScheduleItem { title startAt }""",
        {},
    ),
    (
        "@include and @skip with variables",
        """query($with: Boolean!, $without: Boolean!) {
          scheduleItems { id title @include(if: $with) description @skip(if: $without) }
        }""",
        {"with": True, "without": True},
    ),
    (
        "a range argument",
        "query($s: DateTime) { scheduleItems(startAt: $s) { id title } }",
        {"s": "2026-03-02T00:00:00Z"},
    ),
    (
        "an async field below (graphql-core)",
        "{ scheduleItems { id subscribers { permission user { username } } } }",
        {},
    ),
    ("one item", "query($id: ID!) { scheduleItem(id: $id) { " + ITEM_FIELDS + " } }", {"id": None}),
    (
        "the inbox with nested items",
        "{ inboxMessages { id messageType status permission sender { username } "
        "scheduleItem { id title owner { username } } } }",
        {},
    ),
    ("friends", "{ friends { id friend { id username } } me { id username email } }", {}),
]


async def _world(api: Api, alice: Account, bob: Account) -> str:
    first = ""
    for n in range(4):
        body = {
            "title": f"Item {n}",
            "start_at": f"2026-03-0{n + 1}T10:00:00Z",
            "description": None if n % 2 else "notes",
            "metadata": {"n": n, "tags": ["a", "b"]},
        }
        r = await api.rest("POST", "/schedule-items", alice.access_token, json=body)
        assert r.status_code == 201, r.text
        first = first or r.json()["id"]
    r = await api.rest(
        "POST", f"/schedule-items/{first}/share", alice.access_token, json={"email": bob.email}
    )
    assert r.status_code == 200, r.text
    r = await api.rest(
        "POST", "/friends/requests", bob.access_token, json={"target_user_id": alice.id}
    )
    assert r.status_code == 201, r.text
    await api.rest("POST", f"/friends/requests/{r.json()['id']}/accept", alice.access_token)
    return first


@pytest.fixture(params=["GRAPHQL_FAST_EXECUTION=false", "every plan refused"])
async def graphql_core(
    request: pytest.FixtureRequest,
    api: Api,
    settings: Settings,
    mail: MailSink,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Ask]:
    """The answers of graphql-core's own completion, for the data `api` serves."""
    if request.param == "every plan refused":

        async def refused(query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
            with monkeypatch.context() as patch:
                patch.setattr(FastExecutor, "_compile_object", lambda *_: None)
                return await api.gql(query, variables, token)

        yield refused
        return
    # A second app on the same database, Redis prefix and signing key: the same accounts,
    # tokens and items, served without the fast executor.
    without = settings.model_copy(update={"graphql_fast_execution": False})
    app = create_app(without, mailer=mail, manage_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, mail, app.state.services).gql


@pytest.mark.parametrize(("name", "query", "variables"), QUERIES, ids=[q[0] for q in QUERIES])
async def test_the_fast_path_answers_what_graphql_core_answers(
    api: Api,
    graphql_core: Ask,
    alice: Account,
    bob: Account,
    name: str,
    query: str,
    variables: dict[str, Any],
) -> None:
    first = await _world(api, alice, bob)
    if "id" in variables:
        variables = {**variables, "id": first}
    results = []
    for viewer in (alice, bob):
        fast = await api.gql(query, variables, viewer.access_token)
        slow = await graphql_core(query, variables, viewer.access_token)
        assert "errors" not in slow, slow
        assert fast == slow, name
        results.append(fast)
    assert any(results), "the queries must return data to compare"


@pytest.mark.parametrize(
    ("settings_overrides", "fast"),
    [({}, True), ({"graphql_fast_execution": False}, False)],
    ids=["by default", "GRAPHQL_FAST_EXECUTION=false"],
    indirect=["settings_overrides"],
)
async def test_the_setting_decides_who_completes_the_list_of_the_bench(
    api: Api, alice: Account, bob: Account, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    await _world(api, alice, bob)
    completed: list[int] = []
    original = FastExecutor.complete_list_value

    def spy(self: FastExecutor, *args: Any) -> Any:
        result = original(self, *args)
        completed.append(len(result) if isinstance(result, list) else -1)
        return result

    monkeypatch.setattr(FastExecutor, "complete_list_value", spy)
    # graphql-core's own completion of a list of objects goes through complete_object_value
    # for each item: with the fast path it must not be called at all.
    calls: list[str] = []
    original_object = StrawberryGraphQLCoreExecutionContext.complete_object_value

    def object_spy(
        self: StrawberryGraphQLCoreExecutionContext, return_type: Any, *args: Any
    ) -> Any:
        calls.append(return_type.name)
        return original_object(self, return_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "complete_object_value", object_spy)
    body = await api.gql(f"{{ scheduleItems {{ {ITEM_FIELDS} }} }}", {}, alice.access_token)
    assert len(body["data"]["scheduleItems"]) == 4
    if fast:
        assert completed == [4]
        assert calls == []
    else:  # FastExecutor is not in the app at all; every item and its owner: graphql-core
        assert completed == []
        assert sorted(calls) == ["ScheduleItem"] * 4 + ["User"] * 4


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).graphql_fast_execution is True
    monkeypatch.setenv("GRAPHQL_FAST_EXECUTION", "false")
    assert Settings(_env_file=None).graphql_fast_execution is False


async def test_a_null_in_a_non_null_field_still_gets_graphql_cores_error(
    api: Api, alice: Account, bob: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _world(api, alice, bob)
    from schema.types import calendar

    original = calendar.ScheduleItem.of_row

    def broken(row: Any, loaders: Any) -> Any:
        item = original(row, loaders)
        item.title = None  # type: ignore[assignment]
        return item

    monkeypatch.setattr(calendar.ScheduleItem, "of_row", staticmethod(broken))
    body = await api.gql("{ scheduleItems { id title } }", {}, alice.access_token)
    assert body["data"] is None
    assert body["errors"][0]["path"][:2] == ["scheduleItems", 0]
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL"
