"""GraphQL over HTTP (docs/contract.md §2, §4): error codes, masking, the document caps, batching,
GET, media types, and what `ENV` turns off (introspection, GraphiQL)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

import resolvers.users
from resolvers.viewer import Viewer
from server.graphiql import ASSETS_URL_PREFIX
from tests.support.client import Api, bearer, gql_code

PRODUCTION = pytest.mark.parametrize("settings_overrides", [{"env": "production"}], indirect=True)
HEALTH = "{ health { status } }"


def codes(body: dict[str, Any]) -> set[str | None]:
    return {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}


async def post(api: Api, body: Any, **headers: str) -> httpx.Response:
    return await api.client.post("/graphql", json=body, headers=headers)


# --- error codes ---


async def test_me_without_token_is_unauthenticated(api: Api) -> None:
    body = await api.gql("{ me { email } }")
    assert body["data"] is None
    assert gql_code(body) == "UNAUTHENTICATED"


async def test_malformed_authorization_is_unauthenticated(api: Api) -> None:
    r = await api.client.post(
        "/graphql", json={"query": "{ me { email } }"}, headers={"Authorization": "Basic abc"}
    )
    assert gql_code(r.json()) == "UNAUTHENTICATED"
    r = await api.client.post("/graphql", json={"query": "{ me { email } }"}, headers=bearer("x"))
    assert gql_code(r.json()) == "UNAUTHENTICATED"


async def test_invalid_input_is_bad_user_input(api: Api) -> None:
    account = await api.quick_user()
    body = await api.gql(
        'mutation { updateMe(input: {avatarUrl: "ftp://x"}) { avatarUrl } }',
        token=account.access_token,
    )
    assert gql_code(body) == "BAD_USER_INPUT", body
    error = body["errors"][0]
    assert "avatarUrl" in error["message"]
    assert any("avatarUrl" in issue["loc"] for issue in error["extensions"]["errors"])


async def test_syntax_error_is_bad_request(api: Api) -> None:
    body = await api.gql("{ me { email ")
    assert body.get("data") is None
    assert gql_code(body) == "BAD_REQUEST", body
    assert "Syntax Error" in body["errors"][0]["message"]


async def test_unknown_field_is_bad_request(api: Api) -> None:
    body = await api.gql("{ nope }")
    assert gql_code(body) == "BAD_REQUEST", body
    assert "nope" in body["errors"][0]["message"]


async def test_unknown_operation_name_is_bad_request(api: Api) -> None:
    r = await api.client.post("/graphql", json={"query": HEALTH, "operationName": "Missing"})
    assert r.status_code == 400
    assert "Missing" in r.text


async def test_unexpected_exception_is_masked(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    account = await api.quick_user()

    async def broken(_viewer: Viewer) -> Any:
        raise RuntimeError("secret sql: SELECT password_hash FROM users")

    # schema.account_query calls `users.get_me` through the module, so patch the module's attribute.
    monkeypatch.setattr(resolvers.users, "get_me", broken)
    body = await api.gql("{ me { email } }", token=account.access_token)
    assert gql_code(body) == "INTERNAL", body
    error = body["errors"][0]
    assert "secret" not in str(body) and "SELECT" not in str(body)
    reference = re.search(r"Reference: (\w+)", error["message"])
    assert reference, error
    # The server log has the real exception under the same reference.
    logged = [r for r in caplog.records if reference.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "secret sql" in str(logged[0].exc_info[1])


# --- caps: rejected before anything runs ---


DEPTH_3 = "{ health { status } inboxMessages { scheduleItem { owner { id } } } }"
DEPTH_4 = "{ health { status } inboxMessages { scheduleItem { subscribers { user { id } } } } }"


@pytest.mark.parametrize("settings_overrides", [{"graphql_max_depth": 3}], indirect=True)
async def test_depth_cap(api: Api, health_calls: list[int]) -> None:
    account = await api.quick_user()
    ok = await api.gql(DEPTH_3, token=account.access_token)
    assert "errors" not in ok, ok
    assert health_calls == [1]

    body = await api.gql(DEPTH_4, token=account.access_token)
    assert gql_code(body) == "BAD_REQUEST", body
    assert "depth" in body["errors"][0]["message"]
    assert body.get("data") is None
    assert health_calls == [1]  # the rejected document did not run


def nested_introspection(levels: int) -> str:
    """`__schema { types { fields { type { fields { type ... } } } } }`: every level multiplies
    the answer by the number of fields of a type, unless it is refused."""
    inner = "name"
    for _ in range(levels):
        inner = f"fields {{ type {{ {inner} }} }}"
    return f"{{ health {{ status }} __schema {{ types {{ {inner} }} }} }}"


async def test_deep_introspection_is_refused(api: Api, health_calls: list[int]) -> None:
    # Strawberry's depth limiter skips `__` fields; graphql-core's MaxIntrospectionDepthRule
    # (in its specified rules) is what bounds these.
    assert "errors" not in await api.gql(nested_introspection(1))
    assert health_calls == [1]
    body = await api.gql(nested_introspection(4))
    assert gql_code(body) == "BAD_REQUEST", body
    assert "introspection" in body["errors"][0]["message"].lower()
    assert health_calls == [1]


async def test_token_cap(api: Api, settings: Any, health_calls: list[int]) -> None:
    fields = " ".join(["__typename"] * (settings.graphql_max_tokens + 10))
    body = await api.gql(f"{{ health {{ status }} {fields} }}")
    assert gql_code(body) == "BAD_REQUEST", body
    assert "token" in body["errors"][0]["message"].lower()
    assert health_calls == []


async def test_alias_cap(api: Api, settings: Any, health_calls: list[int]) -> None:
    limit = settings.graphql_max_aliases
    within = " ".join(f"h{i}: health {{ status }}" for i in range(limit))
    assert "errors" not in await api.gql(f"{{ {within} }}")
    assert len(health_calls) == limit
    health_calls.clear()

    over = " ".join(f"h{i}: health {{ status }}" for i in range(limit + 1))
    body = await api.gql(f"{{ {over} }}")
    assert gql_code(body) == "BAD_REQUEST", body
    assert "alias" in body["errors"][0]["message"].lower()
    assert health_calls == []


# --- batching ---


async def test_batch_of_ten_runs_every_operation(api: Api, settings: Any) -> None:
    assert settings.graphql_max_batch == 10
    batch = [{"query": f"query Q{i} {{ health {{ status }} }}"} for i in range(10)]
    r = await post(api, batch)
    assert r.status_code == 200, r.text
    results = r.json()
    assert isinstance(results, list) and len(results) == 10
    assert all(item["data"]["health"]["status"] == "healthy" for item in results)


async def test_batch_errors_are_per_operation(api: Api) -> None:
    r = await post(api, [{"query": HEALTH}, {"query": "{ me { email } }"}])
    assert r.status_code == 200
    first, second = r.json()
    assert "errors" not in first
    assert gql_code(second) == "UNAUTHENTICATED"


async def test_batch_of_eleven_is_refused(api: Api, health_calls: list[int]) -> None:
    r = await post(api, [{"query": HEALTH}] * 11)
    assert r.status_code == 400
    assert "too many operations" in r.text.lower()
    assert health_calls == []


# --- GET, media types ---


async def test_query_via_get(api: Api) -> None:
    r = await api.client.get("/graphql", params={"query": HEALTH})
    assert r.status_code == 200
    assert r.json() == {"data": {"health": {"status": "healthy"}}}


async def test_mutation_via_get_is_refused(api: Api) -> None:
    account = await api.quick_user()
    mutation = 'mutation { updateMe(input: {bio: "via GET"}) { bio } }'
    r = await api.client.get(
        "/graphql", params={"query": mutation}, headers=bearer(account.access_token)
    )
    assert r.status_code in (400, 405), r.text
    assert "mutation" in r.text.lower()
    me = await api.gql("{ me { bio } }", token=account.access_token)
    assert me["data"]["me"]["bio"] is None  # nothing changed


@pytest.mark.parametrize("accept", ["application/graphql-response+json", "application/json"])
async def test_accept_headers(api: Api, accept: str) -> None:
    r = await post(api, {"query": HEALTH}, accept=accept)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] in {accept, "application/json"}
    assert r.json() == {"data": {"health": {"status": "healthy"}}}


# --- ENV: introspection and GraphiQL ---

INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_introspection_on_in_development(api: Api) -> None:
    body = await api.gql(INTROSPECTION)
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@PRODUCTION
async def test_introspection_off_in_production(api: Api) -> None:
    body = await api.gql(INTROSPECTION)
    assert body.get("data") is None
    assert gql_code(body) == "BAD_REQUEST", body
    assert "introspection" in body["errors"][0]["message"].lower()
    body = await api.gql('{ __type(name: "Query") { name } }')
    assert gql_code(body) == "BAD_REQUEST", body
    # Ordinary queries still work.
    assert (await api.gql(HEALTH))["data"] == {"health": {"status": "healthy"}}


@pytest.mark.parametrize(
    "settings_overrides", [{"env": "production", "graphql_introspection": True}], indirect=True
)
async def test_introspection_can_be_enabled_in_production(api: Api) -> None:
    assert "errors" not in await api.gql(INTROSPECTION)


async def test_graphiql_page_in_development(api: Api) -> None:
    r = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "graphiql" in r.text.lower()

    sources = re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"', r.text)
    assets = [url for url in sources if not url.startswith("data:")]
    assert assets, r.text
    assert all(url.startswith(f"{ASSETS_URL_PREFIX}/") for url in assets), assets
    assert "unpkg.com" not in r.text and "cdn" not in r.text.lower()

    scripts = [url for url in assets if url.endswith(".js")]
    assert scripts
    for url in assets:
        asset = await api.client.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], (url, asset.headers)
        elif url.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css"), url


@PRODUCTION
async def test_graphiql_not_served_in_production(api: Api) -> None:
    r = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert "<html" not in r.text.lower()
    asset = await api.client.get(f"{ASSETS_URL_PREFIX}/graphiql/graphiql.min.js")
    assert asset.status_code == 404
    # The API itself still answers.
    r = await api.client.get("/graphql", params={"query": HEALTH})
    assert r.json() == {"data": {"health": {"status": "healthy"}}}
