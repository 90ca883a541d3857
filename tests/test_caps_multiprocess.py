"""MAX_STREAMS_PER_USER and MAX_WS_CONNECTIONS_PER_USER hold across two `runtime-api serve`
processes sharing one Redis (docs/security.md), and the slots of a process that is killed lapse
with their lease (STREAM_LEASE_S). Only on the real backend: embedded, there is one process."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.agent import new_thread
from tests.support.agent_stream import sse_connection, wait_for
from tests.support.backend import detect
from tests.support.live_server import TRANSPORT_WS, auth_payload, gql_socket
from tests.support.multiprocess import fresh_database, servers, shared_env, sign_up
from tests.support.server_process import ServerProcess, run_cli

BACKEND = detect()
pytestmark = pytest.mark.skipif(
    not BACKEND.real, reason="needs PostgreSQL and Redis shared by two server processes"
)

LEASE_S = 2.0
STREAMS = 3
SOCKETS = 2


def sse_url(server: ServerProcess) -> str:
    return f"{server.base_url}/api/v1/agent/runs/{new_thread()}/events"


def ws_url(server: ServerProcess) -> str:
    return server.base_url.replace("http://", "ws://") + "/graphql"


async def stream_status(server: ServerProcess, token: str) -> int:
    async with sse_connection(sse_url(server), token) as conn:
        return conn.status


async def socket_refused(server: ServerProcess, token: str) -> bool:
    """True when the socket is closed with 4429 after its `connection_init`, False on an ack."""
    protocols = [Subprotocol(TRANSPORT_WS)]
    async with connect(ws_url(server), subprotocols=protocols, open_timeout=5) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": auth_payload(token)}))
        try:
            async with asyncio.timeout(5):
                message = json.loads(await ws.recv())
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4429, closed
            return True
        assert message["type"] == "connection_ack", message
        return False


async def until(condition: Any, seconds: float) -> None:
    """Poll the async `condition` until it is true (bounded)."""
    await wait_for(condition, seconds, step=0.2)


@contextlib.asynccontextmanager
async def two_servers(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    assert BACKEND.redis_url is not None
    async with fresh_database() as database_url:
        env = shared_env(
            database_url,
            BACKEND.redis_url,
            "caps",
            MAX_STREAMS_PER_USER=str(STREAMS),
            MAX_WS_CONNECTIONS_PER_USER=str(SOCKETS),
            STREAM_LEASE_S=str(LEASE_S),
            AGENT_SSE_KEEPALIVE_S="0.5",
        )
        prefix = env["REDIS_PREFIX"]
        migrated = await asyncio.to_thread(run_cli, "migrate", cwd=tmp_path, env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        try:
            async with servers(tmp_path, env, 2) as (a, b):
                yield a, b
        finally:
            redis = Redis.from_url(BACKEND.redis_url)
            try:
                keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
                if keys:
                    await redis.delete(*keys)
            finally:
                await redis.aclose()


async def test_the_caps_count_across_processes_and_outlive_no_process(tmp_path: Path) -> None:
    async with two_servers(tmp_path) as (a, b):
        ann = await sign_up(a, "ann")
        bob = await sign_up(b, "bob")
        token = ann["token"]
        async with contextlib.AsyncExitStack() as streams:
            # Two streams on one process, one on the other: the user's cap of three is full.
            held = [
                await streams.enter_async_context(sse_connection(sse_url(server), token))
                for server in (a, a, b)
            ]
            assert [conn.status for conn in held] == [200] * STREAMS
            assert await stream_status(a, token) == 429
            assert await stream_status(b, token) == 429
            assert await stream_status(b, bob["token"]) == 200  # per user
        # Closed streams give their slots back on both processes.
        await until(lambda: _accepts_streams(a, b, token), 10)

        # Websockets: one on each process fills the cap of two.
        async with (
            gql_socket(ws_url(a), TRANSPORT_WS, auth_payload(token)),
            gql_socket(ws_url(b), TRANSPORT_WS, auth_payload(token)),
        ):
            assert await socket_refused(a, token)
            assert await socket_refused(b, token)
            assert not await socket_refused(a, bob["token"])

        # A process killed while holding slots cannot release them: they lapse with the lease.
        async with (
            sse_connection(sse_url(a), token) as one,
            sse_connection(sse_url(a), token) as two,
            sse_connection(sse_url(a), token) as three,
            gql_socket(ws_url(a), TRANSPORT_WS, auth_payload(token)),
            gql_socket(ws_url(a), TRANSPORT_WS, auth_payload(token)),
        ):
            assert one.status == two.status == three.status == 200
            assert await stream_status(b, token) == 429
            assert await socket_refused(b, token)
            a.process.kill()
            a.process.wait()
            started = asyncio.get_running_loop().time()
            await until(lambda: _stream_accepted(b, token), LEASE_S + 5)
            await until(lambda: _socket_accepted(b, token), LEASE_S + 5)
            assert asyncio.get_running_loop().time() - started <= LEASE_S + 5


async def _accepts_streams(a: ServerProcess, b: ServerProcess, token: str) -> bool:
    async with contextlib.AsyncExitStack() as stack:
        conns = [
            await stack.enter_async_context(sse_connection(sse_url(server), token))
            for server in (a, b, b)
        ]
        return all(conn.status == 200 for conn in conns)


async def _stream_accepted(server: ServerProcess, token: str) -> bool:
    return await stream_status(server, token) == 200


async def _socket_accepted(server: ServerProcess, token: str) -> bool:
    return not await socket_refused(server, token)
