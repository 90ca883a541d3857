"""`/metrics`: served only when configured, behind its token, with bounded labels.

What a scraper sees, read with prometheus-client's own parser: the 404 without configuration,
the 401 problem for a wrong token, HTTP requests by route template (never an id), GraphQL
operations by name (anonymous and invented names bucketed) with their error codes, rate-limit
rejections by limit, agent runs by outcome, and the separate listener of `METRICS_PORT`.
A real Prometheus scraping real processes is tests/test_prometheus_scrape.py.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from config import Settings
from observability import metrics
from observability.exposition import start_listener
from server.app import create_app
from tests.conftest import base_settings
from tests.support.agent import new_thread, run_input, start_run
from tests.support.client import Account, Api
from tests.support.live_server import TRANSPORT_WS, auth_payload, gql_socket, live_server

TOKEN = "metrics-token-" + uuid.uuid4().hex
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"metrics_token": SecretStr(TOKEN), "rate_limit_login_email": "2/minute"}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.fixture
async def bare_client(db: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app without any metrics setting, in production as in development."""
    app = create_app(base_settings(db, env="production"), manage_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_without_configuration_there_is_no_metrics_route(
    bare_client: httpx.AsyncClient,
) -> None:
    for headers in ({}, SCRAPE):
        response = await bare_client.get("/metrics", headers=headers)
        assert response.status_code == 404


def test_a_short_or_placeholder_token_is_refused() -> None:
    secret = SecretStr("a-jwt-secret-of-at-least-32-bytes-here")
    with pytest.raises(ValueError, match="at least 16"):
        Settings(_env_file=None, metrics_token=SecretStr("short"))
    with pytest.raises(ValueError, match="placeholder"):
        Settings(
            _env_file=None,
            env="production",
            jwt_secret=secret,
            metrics_token=SecretStr("change-me-metrics-token"),
        )


async def test_a_wrong_or_missing_token_is_a_401_problem(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["status"] == 401
        assert "runtime_api" not in response.text


async def test_requests_are_counted_by_route_template(api: Api, alice: Account) -> None:
    before = await scrape(api.client)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for item_id in ids:
        response = await api.rest("GET", f"/schedule-items/{item_id}", alice.access_token)
        assert response.status_code == 404
    await api.rest("GET", "/users/me", alice.access_token)
    await api.client.get("/no/such/path")
    after = await scrape(api.client)

    route = "/api/v1/schedule-items/{id}"
    series = {"method": "GET", "route": route, "status": "404"}
    assert value(after, "runtime_api_http_requests_total", **series) - value(
        before, "runtime_api_http_requests_total", **series
    ) == len(ids)
    assert value(after, "runtime_api_http_request_duration_seconds_count", **series) >= len(ids)
    me = {"method": "GET", "route": "/api/v1/users/me", "status": "200"}
    assert value(after, "runtime_api_http_requests_total", **me) >= 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "runtime_api_http_requests_total", **unmatched) >= 1
    assert not any(item_id in after for item_id in ids)  # ids never become labels


async def test_graphql_operations_by_name_type_and_error_code(api: Api, alice: Account) -> None:
    before = await scrape(api.client)
    await api.gql("query Me { me { username } }", token=alice.access_token)
    await api.gql("{ me { username } }", token=alice.access_token)
    await api.gql("query Anonymous { me { username } }")  # no token: UNAUTHENTICATED
    await api.gql("query Broken { nope }")
    after = await scrape(api.client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ops = "runtime_api_graphql_operations_total"
    assert delta(ops, operation="Me", type="query") == 1
    assert delta(ops, operation="_anonymous", type="query") == 1
    assert delta(ops, operation="Anonymous", type="query") == 1
    assert delta(ops, operation="_invalid", type="unknown") == 1
    errors = "runtime_api_graphql_errors_total"
    assert delta(errors, operation="Anonymous", type="query", code="UNAUTHENTICATED") == 1
    assert delta(errors, operation="_invalid", type="unknown", code="BAD_REQUEST") == 1
    assert delta(errors, operation="Me", type="query", code="UNAUTHENTICATED") == 0


@pytest.fixture
def few_operation_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", len(metrics._names) + 2)
    yield


@pytest.mark.usefixtures("few_operation_names")
async def test_invented_operation_names_do_not_grow_the_series(api: Api, alice: Account) -> None:
    names = [f"Invented{uuid.uuid4().hex}" for _ in range(5)]
    for name in names:
        await api.gql(f"query {name} {{ me {{ username }} }}", token=alice.access_token)
    after = await scrape(api.client)
    seen = [name for name in names if name in after]
    assert seen == names[:2]
    assert value(after, "runtime_api_graphql_operations_total", operation="_other", type="query")


async def test_rate_limit_rejections_are_counted_by_limit(api: Api, alice: Account) -> None:
    before = await scrape(api.client)
    body = {"email": alice.email, "password": "not the password"}
    statuses = [(await api.rest("POST", "/auth/sessions", json=body)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    after = await scrape(api.client)
    name, limit = "runtime_api_rate_limit_rejections_total", "login-email"
    assert value(after, name, limit=limit) - value(before, name, limit=limit) == 1
    assert email_free(after, alice.email)


def email_free(text: str, email: str) -> bool:
    return email not in text


async def test_agent_runs_are_counted_by_outcome(api: Api, alice: Account) -> None:
    before = await scrape(api.client)
    thread = new_thread()
    await start_run(api, alice, run_input(thread, text="hello"))
    name = "runtime_api_agent_runs_total"
    for _ in range(200):  # the app's own worker executes the run
        after = await scrape(api.client)
        if value(after, name, outcome="finished") > value(before, name, outcome="finished"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the run was never counted")
    assert value(after, "runtime_api_agent_run_duration_seconds_count", outcome="finished") >= 1


async def test_websockets_and_subscriptions_are_gauged(app: Any, api: Api, alice: Account) -> None:
    open_sockets = "runtime_api_graphql_websockets_open"
    active = "runtime_api_graphql_subscriptions_active"
    before = await scrape(api.client)
    async with (
        live_server(app) as url,
        gql_socket(url, TRANSPORT_WS, auth_payload(alice.access_token)) as socket,
    ):
        await socket.subscribe("subscription Inbox { inboxMessages { id } }")

        async def subscribed() -> bool:
            text = await scrape(api.client)
            return value(text, active) - value(before, active) == 1

        for _ in range(100):
            if await subscribed():
                break
            await asyncio.sleep(0.02)
        during = await scrape(api.client)
        assert value(during, active) - value(before, active) == 1
        assert value(during, open_sockets) - value(before, open_sockets) == 1
    for _ in range(100):  # the server notices the closed socket a moment later
        after = await scrape(api.client)
        if value(after, open_sockets) == value(before, open_sockets):
            break
        await asyncio.sleep(0.02)
    assert value(after, open_sockets) == value(before, open_sockets)
    assert value(after, active) == value(before, active)
    ops = "runtime_api_graphql_operations_total"
    assert value(after, ops, operation="Inbox", type="subscription") >= 1


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_the_metrics_port_listener_serves_only_metrics_behind_its_token() -> None:
    listener = start_listener("127.0.0.1", 0, TOKEN)
    try:
        base = f"http://127.0.0.1:{listener.server_address[1]}"
        metrics.count_rejection("listener-test")
        assert (await asyncio.to_thread(_get, f"{base}/metrics"))[0] == 401
        assert (await asyncio.to_thread(_get, f"{base}/other", SCRAPE))[0] == 404
        status, text = await asyncio.to_thread(_get, f"{base}/metrics", SCRAPE)
        assert status == 200
        assert value(text, "runtime_api_rate_limit_rejections_total", limit="listener-test") >= 1
    finally:
        listener.shutdown()
        listener.server_close()
