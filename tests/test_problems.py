"""REST errors are RFC 7807 problems (docs/contract.md §2), FastAPI's own 404/405/422 included, and
a 500 tells the client a reference and the log the rest."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import resolvers.users
from observability.logs import JsonFormatter
from resolvers.viewer import Viewer
from rest_compat.problems import install_problem_handlers
from tests.support.client import API, Api

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, path: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["instance"] == path
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert isinstance(body["title"], str) and body["title"]
    return body


async def test_unknown_route_is_404_problem(api: Api) -> None:
    r = await api.client.get(f"{API}/no/such/route")
    body = assert_problem(r, 404, f"{API}/no/such/route")
    assert body["title"] == "Not Found"
    r = await api.client.get("/outside/the/api")
    assert_problem(r, 404, "/outside/the/api")


async def test_wrong_method_is_405_problem(api: Api) -> None:
    r = await api.client.delete(f"{API}/health")
    body = assert_problem(r, 405, f"{API}/health")
    assert body["title"] == "Method Not Allowed"
    assert "GET" in r.headers.get("allow", ""), r.headers


@pytest.mark.parametrize(
    "content",
    [b'{"email": ', b"not json at all", b'{"email": "a@example.com",}'],
    ids=["truncated", "garbage", "trailing-comma"],
)
async def test_malformed_json_is_422_with_errors(api: Api, content: bytes) -> None:
    path = f"{API}/auth/verifications"
    r = await api.client.post(path, content=content, headers={"Content-Type": "application/json"})
    body = assert_problem(r, 422, path)
    assert body["title"] == "Unprocessable Entity"
    assert body["errors"], body
    for issue in body["errors"]:
        assert set(issue) == {"loc", "msg"}
        assert issue["loc"][0] == "body"
        assert isinstance(issue["msg"], str) and issue["msg"]
    assert "json" in body["detail"].lower(), body["detail"]
    assert not re.search(r"Invalid \d", body["detail"]), body["detail"]  # not "Invalid 1: ..."


async def test_invalid_body_fields_are_422_with_locations(api: Api) -> None:
    path = f"{API}/auth/verifications"
    r = await api.client.post(path, json={"email": "not-an-email", "password": "x"})
    body = assert_problem(r, 422, path)
    locations = [issue["loc"] for issue in body["errors"]]
    assert ["body", "email"] in locations, locations
    assert ["body", "username"] in locations, locations


async def test_unexpected_exception_is_500_problem_with_reference(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    account = await api.quick_user()

    async def broken(_viewer: Viewer) -> Any:
        raise RuntimeError('secret sql: SELECT password_hash FROM "users"')

    monkeypatch.setattr(resolvers.users, "get_me", broken)
    caplog.set_level("ERROR")
    r = await api.rest("GET", "/users/me", account.access_token)
    body = assert_problem(r, 500, f"{API}/users/me")
    assert body["title"] == "Internal Server Error"
    assert "secret" not in r.text and "SELECT" not in r.text and "Traceback" not in r.text
    assert "RuntimeError" not in r.text

    request_id = r.headers["x-request-id"]
    assert f"Reference: {request_id}" in body["detail"], body["detail"]

    logged = [rec for rec in caplog.records if request_id in rec.getMessage()]
    assert logged, [rec.getMessage() for rec in caplog.records]
    assert logged[0].levelname == "ERROR"
    assert logged[0].exc_info is not None and "secret sql" in str(logged[0].exc_info[1])
    # A JSON log line (LOG_FORMAT=json) carries the reference as its request id too.
    assert json.loads(JsonFormatter().format(logged[0]))["request_id"] == request_id


async def test_request_id_on_every_response(api: Api) -> None:
    ok = await api.rest("GET", "/health")
    assert ok.status_code == 200
    generated = ok.headers["x-request-id"]
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", generated)
    other = await api.rest("GET", "/health")
    assert other.headers["x-request-id"] != generated

    missing = await api.rest("GET", "/nope")
    assert missing.headers["x-request-id"]
    gql = await api.client.post("/graphql", json={"query": "{ health { status } }"})
    assert gql.headers["x-request-id"]


async def test_request_id_from_the_client_is_echoed_when_safe(api: Api) -> None:
    r = await api.rest("GET", "/health", headers={"X-Request-ID": "trace-123.abc_DEF"})
    assert r.headers["x-request-id"] == "trace-123.abc_DEF"
    # Anything that could forge log lines or headers is replaced with a fresh id.
    r = await api.rest("GET", "/health", headers={"X-Request-ID": "bad id; <script>"})
    assert r.headers["x-request-id"] != "bad id; <script>"
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", r.headers["x-request-id"])
    r = await api.rest("GET", "/health", headers={"X-Request-ID": "x" * 65})
    assert len(r.headers["x-request-id"]) <= 64


def _socket_app(error: Exception, *, accept_first: bool) -> Any:
    app = FastAPI()
    install_problem_handlers(app)

    @app.websocket("/socket")
    async def socket(websocket: WebSocket) -> None:
        if accept_first:
            await websocket.accept()
        raise error

    return app


@pytest.mark.parametrize("accept_first", [True, False], ids=["open", "handshake"])
def test_a_websocket_failing_on_a_service_gets_a_close_frame(accept_first: bool) -> None:
    """Starlette hands websocket errors to the same handlers as requests; a socket whose
    PostgreSQL or Redis is down gets a close frame with 1013 (try again later), never a dropped
    connection or a handler crash."""
    app = _socket_app(ConnectionRefusedError(111, "refused"), accept_first=accept_first)
    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/socket") as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 1013
