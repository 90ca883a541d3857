"""GraphQL over websockets against a real `runtime-api serve` (docs/contract.md §1, §2, §4): the
Origin check of the handshake, both subprotocols, and authentication in `connection_init`.

One server for the module, started as an operator would with next to no configuration (only
CORS_ORIGINS, which the Origin tests need) in an empty directory: so it also shows the embedded
default — SQLite under ./data/, a generated JWT key, and the console mailer whose log carries
the sign-up codes this module signs in with.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.support.server_process import ServerProcess, running_server

ALLOWED_ORIGIN = "http://allowed.example"
OTHER_ORIGIN = "http://evil.example"
TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)
TIMEOUT_S = 5.0

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    cwd = tmp_path_factory.mktemp("ws") / "empty"
    with running_server(cwd, env={"CORS_ORIGINS": f"{ALLOWED_ORIGIN}, https://other.example"}) as s:
        yield s


@dataclass(frozen=True)
class SignedUp:
    email: str
    code: str
    access_token: str


@pytest.fixture(scope="module")
async def account(server: ServerProcess) -> SignedUp:
    """A sign-up through the server's REST API, confirmed with the code from its log."""
    email = "Socket.User@example.com"
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api/v1", timeout=10) as client:
        mark = len(server.log())
        body = {"username": "socket_user", "email": email, "password": "correct horse"}
        r = await client.post("/auth/verifications", json=body)
        assert r.status_code == 202, r.text
        mail = await asyncio.to_thread(
            server.wait_for_log, rf"mail to {re.escape(email)} \|", after=mark
        )
        code = re.search(r"(?<!\d)\d{6}(?!\d)", server.log()[mail.end() : mail.end() + 500])
        assert code, server.log()[mail.start() :]
        verify = {"type": "signup", "email": email, "token": code.group(0)}
        r = await client.post("/auth/verify", json=verify)
        assert r.status_code == 200, r.text
        return SignedUp(email, code.group(0), r.json()["access_token"])


# --- a small client for both protocols ---


class GqlSocket:
    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            elif message["type"] not in ("ka", "pong"):
                return message

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def run(self, query: str) -> list[dict[str, Any]]:
        """Run one operation; answers its messages up to and including the last one."""
        op_id = str(next(_ids))
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send({"id": op_id, "type": kind, "payload": {"query": query}})
        messages: list[dict[str, Any]] = []
        while not messages or messages[-1]["type"] not in ("complete", "error"):
            message = await self.receive()
            assert message.get("id") == op_id, message
            messages.append(message)
        return messages

    async def result(self, query: str) -> dict[str, Any]:
        """The one result of a query: `{"data": ..., "errors"?: ...}`."""
        messages = await self.run(query)
        *results, last = messages
        if last["type"] == "error":  # failed before it ran
            errors = last["payload"]
            return {"data": None, "errors": errors if isinstance(errors, list) else [errors]}
        assert len(results) == 1 and results[0]["type"] in ("next", "data"), messages
        payload: dict[str, Any] = results[0]["payload"]
        return payload


@contextlib.asynccontextmanager
async def socket(
    server: ServerProcess, protocol: str, origin: str | None = ALLOWED_ORIGIN
) -> AsyncIterator[GqlSocket]:
    async with connect(
        f"{server.ws_url}/graphql",
        subprotocols=[Subprotocol(protocol)],
        origin=origin,  # type: ignore[arg-type]
        open_timeout=TIMEOUT_S,
        close_timeout=1,
    ) as ws:
        assert ws.subprotocol == protocol
        yield GqlSocket(ws, protocol)


def error_codes(result: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in result.get("errors") or []]


# --- the embedded default ---


def test_serves_the_embedded_default(server: ServerProcess) -> None:
    assert (server.cwd / "data" / "runtime.db").is_file()
    log = server.log()
    assert "JWT_SECRET is not set" in log
    assert "Uvicorn running on http://127.0.0.1" in log


async def test_console_mailer_logs_the_code(server: ServerProcess, account: SignedUp) -> None:
    log = server.log()
    mail = log.index(f"mail to {account.email}")
    assert account.code in log[mail : mail + 500]


# --- the handshake's Origin check ---


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_listed_origin_is_accepted(server: ServerProcess, protocol: str) -> None:
    async with socket(server, protocol, origin=ALLOWED_ORIGIN) as gql:
        assert (await gql.init())["type"] == "connection_ack"


async def test_same_origin_and_originless_clients_are_accepted(server: ServerProcess) -> None:
    # GraphiQL, served from this server, opens its socket from the server's own origin;
    # non-browser clients send no Origin at all.
    for origin in (server.base_url, None):
        async with socket(server, TRANSPORT_WS, origin=origin) as gql:
            assert (await gql.init())["type"] == "connection_ack"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("origin", [OTHER_ORIGIN, "http://allowed.example:8080", "null"])
async def test_other_origin_is_refused(server: ServerProcess, protocol: str, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with socket(server, protocol, origin=origin):
            pass
    assert refused.value.response.status_code == 403


# --- operations over both protocols ---


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_query_over_the_socket(server: ServerProcess, protocol: str) -> None:
    async with socket(server, protocol) as gql:
        assert (await gql.init())["type"] == "connection_ack"
        messages = await gql.run("{ health { status } }")
        assert [m["type"] for m in messages] == [
            "next" if protocol == TRANSPORT_WS else "data",
            "complete",
        ]
        assert messages[0]["payload"] == {"data": {"health": {"status": "healthy"}}}
        # The socket stays usable for the next operation.
        assert (await gql.result("{ health { status } }"))["data"]["health"]["status"] == "healthy"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("style", ["authorization", "token"])
async def test_connection_init_authenticates(
    server: ServerProcess, account: SignedUp, protocol: str, style: str
) -> None:
    payload = (
        {"Authorization": f"Bearer {account.access_token}"}
        if style == "authorization"
        else {"token": account.access_token}
    )
    async with socket(server, protocol) as gql:
        assert (await gql.init(payload))["type"] == "connection_ack"
        result = await gql.result("{ me { email } }")
        assert result == {"data": {"me": {"email": account.email}}}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_socket_without_token_is_unauthenticated(
    server: ServerProcess, account: SignedUp, protocol: str
) -> None:
    async with socket(server, protocol) as gql:
        assert (await gql.init())["type"] == "connection_ack"
        result = await gql.result("{ me { email } }")
        assert result.get("data") is None
        assert error_codes(result) == ["UNAUTHENTICATED"], result

    async with socket(server, protocol) as gql:
        await gql.init({"Authorization": f"Bearer {account.access_token}x"})
        result = await gql.result("{ me { email } }")
        assert error_codes(result) == ["UNAUTHENTICATED"], result


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_invalid_document_over_the_socket(server: ServerProcess, protocol: str) -> None:
    async with socket(server, protocol) as gql:
        assert (await gql.init())["type"] == "connection_ack"
        result = await gql.result("{ nope }")
        assert result.get("data") is None
        assert error_codes(result) == ["BAD_REQUEST"], result
        # A failed operation leaves the socket usable.
        assert (await gql.result("{ health { status } }"))["data"]["health"]["status"] == "healthy"
