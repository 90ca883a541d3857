"""Faults with real processes and real services (docs/operations.md).

- PostgreSQL unreachable (a TCP proxy between the server and PostgreSQL is closed, then turned
  into a black hole): REST answers 503 problem+json with Retry-After and GraphQL
  SERVICE_UNAVAILABLE within 2 s, `/infra/health` says unhealthy, and the server recovers by
  itself when the database is back.
- Redis restarted (a private, durable `redis-server` killed with SIGKILL and started again)
  while an SSE client and a websocket subscriber are connected: both continue, the SSE client
  gets every event of the run exactly once, and routes that do not need Redis keep answering.
- The API server restarted (SIGTERM) while SSE clients watch a run executed by a separate
  worker: their streams end at once and cleanly, and resuming with `Last-Event-ID` on the new
  server gives the rest of the run with nothing lost or repeated.

The machine's shared PostgreSQL and Redis are never stopped: faults are injected with processes
of the test's own (tests/support/faults.py). Only on the real backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis.asyncio import Redis

from tests.support.agent import SseEvent, SseRead, read_sse, run_input
from tests.support.backend import detect
from tests.support.faults import TcpProxy, private_redis, tcp_proxy
from tests.support.live_server import TRANSPORT_WS, auth_payload, gql_socket
from tests.support.multiprocess import fresh_database, sign_up
from tests.support.server_process import (
    ServerProcess,
    child_env,
    run_cli,
    running_server,
    runtime_api_command,
)

BACKEND = detect()
pytestmark = pytest.mark.skipif(
    not BACKEND.real, reason="faults of PostgreSQL and Redis need the real backend"
)

PROBLEM = "application/problem+json"
FAST_S = 2.0  # the bound on answering while a dependency is down
ME = "{ me { id username } }"


def _through(proxy: TcpProxy, database_url: str) -> str:
    parts = urlsplit(database_url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    netloc_text = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    return urlunsplit((parts.scheme, netloc_text, parts.path, parts.query, parts.fragment))


def _base_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"rt-faults-{uuid.uuid4().hex[:8]}:",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "1024",
        **extra,
    }


async def _migrate(root: Path, env: dict[str, str]) -> None:
    migrated = await asyncio.to_thread(run_cli, "migrate", cwd=root, env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr


@contextlib.asynccontextmanager
async def _serving(root: Path, env: dict[str, str]) -> AsyncIterator[ServerProcess]:
    with contextlib.ExitStack() as stack:
        server = await asyncio.to_thread(stack.enter_context, running_server(root, env))
        try:
            yield server
        finally:
            await asyncio.to_thread(stack.close)


async def _forget_prefix(prefix: str) -> None:
    assert BACKEND.redis_url is not None
    redis = Redis.from_url(BACKEND.redis_url)
    async for key in redis.scan_iter(match=f"{prefix}*"):
        await redis.delete(key)
    await redis.aclose()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _timed(coro: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = await coro
    return result, time.monotonic() - started


# --- PostgreSQL unreachable --------------------------------------------------------------------


async def _expect_unavailable(client: httpx.AsyncClient, token: str) -> dict[str, float]:
    """Every door answers "unavailable" quickly; returns the timings."""
    me, rest_s = await _timed(client.get("/api/v1/users/me", headers=_auth(token)))
    assert me.status_code == 503, me.text
    assert me.headers["content-type"].startswith(PROBLEM)
    assert int(me.headers["Retry-After"]) >= 1
    body = me.json()
    assert body["status"] == 503 and body["title"] == "Service Unavailable"
    assert "SELECT" not in body["detail"] and "Traceback" not in body["detail"]

    gql, gql_s = await _timed(client.post("/graphql", json={"query": ME}, headers=_auth(token)))
    assert gql.status_code == 200, gql.text
    errors = gql.json()["errors"]
    assert errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", errors
    assert errors[0]["extensions"]["retryAfter"] >= 1

    health, health_s = await _timed(client.get("/api/v1/infra/health"))
    report = health.json()
    assert report["status"] == "unhealthy", report
    assert report["services"]["database"]["status"] == "unhealthy", report
    assert report["services"]["redis"]["status"] == "healthy", report

    alive = await client.get("/api/v1/health")  # the process itself is fine
    assert alive.status_code == 200
    for seconds in (rest_s, gql_s, health_s):
        assert seconds < FAST_S, (rest_s, gql_s, health_s)
    return {"rest": rest_s, "graphql": gql_s, "health": health_s}


async def _recovers(client: httpx.AsyncClient, token: str) -> float:
    started = time.monotonic()
    while True:
        me = await client.get("/api/v1/users/me", headers=_auth(token))
        if me.status_code == 200:
            return time.monotonic() - started
        assert me.status_code == 503, me.text
        assert time.monotonic() - started < 10, "the server did not recover"
        await asyncio.sleep(0.1)


async def test_postgres_unreachable_is_503_fast_and_heals(tmp_path: Path) -> None:
    assert BACKEND.redis_url is not None
    async with fresh_database() as database_url:
        with tcp_proxy("127.0.0.1", urlsplit(database_url).port or 5432) as proxy:
            # A statement timeout below the 2 s bound: a black-holed network otherwise holds a
            # request that already has a connection for DATABASE_COMMAND_TIMEOUT_S (5 s).
            env = _base_env(
                _through(proxy, database_url),
                BACKEND.redis_url,
                DATABASE_COMMAND_TIMEOUT_S="1.5",
                DATABASE_POOL_MIN="2",
            )
            await _migrate(tmp_path, env)
            try:
                async with (
                    _serving(tmp_path / "api", env) as server,
                    httpx.AsyncClient(base_url=server.base_url, timeout=10) as client,
                ):
                    ann = await sign_up(server, "ann")
                    timings: dict[str, Any] = {}
                    # Down: connections reset, new ones refused (PostgreSQL stopped).
                    proxy.close()
                    timings["closed"] = await _expect_unavailable(client, ann["token"])
                    proxy.resume()
                    timings["closed_recovery_s"] = await _recovers(client, ann["token"])
                    # Partitioned: pooled connections and new ones get silence, not errors.
                    proxy.pause()
                    timings["black_hole"] = await _expect_unavailable(client, ann["token"])
                    # Again, now that the pool's connections are known to be broken.
                    timings["black_hole_again"] = await _expect_unavailable(client, ann["token"])
                    proxy.resume()
                    timings["black_hole_recovery_s"] = await _recovers(client, ann["token"])
                    # Fully usable again: a write, through both doors.
                    update = await client.patch(
                        "/api/v1/users/me", json={"bio": "back"}, headers=_auth(ann["token"])
                    )
                    assert update.status_code == 200, update.text
                    gql = await client.post(
                        "/graphql", json={"query": ME}, headers=_auth(ann["token"])
                    )
                    assert gql.json()["data"]["me"]["username"] == "ann"
                    print("postgres fault timings:", timings)
            finally:
                await _forget_prefix(env["REDIS_PREFIX"])


# --- Redis restarted -----------------------------------------------------------------------------

ITEM_SUBSCRIPTION = (
    "subscription($id: ID!) { scheduleItemChanged(id: $id) { kind item { id title } } }"
)


def _events_url(server: ServerProcess, thread_id: str) -> str:
    return f"{server.base_url}/api/v1/agent/runs/{thread_id}/events"


async def _post_run(server: ServerProcess, token: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{server.base_url}/api/v1/agent/runs", json=body, headers=_auth(token)
        )
    assert response.status_code == 202, response.text


def _content_seen(count: int) -> Any:
    return lambda events: sum(e.event == "TEXT_MESSAGE_CONTENT" for e in events) >= count


def _assert_one_whole_run(ids: list[str], events: list[SseEvent]) -> None:
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    kinds = [e.event for e in events]
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED", kinds
    assert kinds.count("RUN_STARTED") == 1 and kinds.count("RUN_FINISHED") == 1, kinds


async def test_redis_restart_keeps_streams_and_routes(tmp_path: Path) -> None:
    with private_redis(tmp_path / "redis", durable=True) as redis:
        async with fresh_database() as database_url:
            # The run executes in the server (its queue is on this Redis too), slowly enough
            # that Redis goes down in the middle of it.
            env = _base_env(
                database_url,
                redis.url,
                AGENT_WORKER_IN_SERVER="true",
                AGENT_MODEL_CHUNK_DELAY_S="0.5",
            )
            await _migrate(tmp_path, env)
            async with (
                _serving(tmp_path / "api", env) as server,
                httpx.AsyncClient(base_url=server.base_url, timeout=10) as client,
            ):
                ann = await sign_up(server, "ann")
                item = await client.post(
                    "/api/v1/schedule-items",
                    json={"title": "before", "start_at": "2030-01-01T10:00:00Z"},
                    headers=_auth(ann["token"]),
                )
                assert item.status_code in (200, 201), item.text
                item_id = item.json()["id"]
                ws_url = f"{server.ws_url}/graphql"
                async with gql_socket(ws_url, TRANSPORT_WS, auth_payload(ann["token"])) as socket:
                    op = await socket.subscribe(ITEM_SUBSCRIPTION, {"id": item_id})
                    await asyncio.sleep(0.3)  # no "ready" message: let it subscribe

                    thread = str(uuid.uuid4())
                    sse = asyncio.create_task(
                        read_sse(_events_url(server, thread), _auth(ann["token"]), timeout_s=40)
                    )
                    await asyncio.sleep(0.3)
                    await _post_run(server, ann["token"], run_input(thread, "r1", "hello there"))
                    streaming = await read_sse(
                        _events_url(server, thread), _auth(ann["token"]), until=_content_seen(1)
                    )
                    assert streaming.status == 200

                    redis.kill()
                    down_at = time.monotonic()
                    # Routes that do not need Redis keep answering.
                    me, me_s = await _timed(
                        client.get("/api/v1/users/me", headers=_auth(ann["token"]))
                    )
                    assert me.status_code == 200 and me_s < FAST_S, (me.text, me_s)
                    items, _ = await _timed(
                        client.get("/api/v1/schedule-items", headers=_auth(ann["token"]))
                    )
                    assert items.status_code == 200, items.text
                    # A change while Redis is down: stored, its notification lost (and
                    # recovered by the subscriber after the restart).
                    patch, patch_s = await _timed(
                        client.patch(
                            f"/api/v1/schedule-items/{item_id}",
                            json={"title": "during"},
                            headers=_auth(ann["token"]),
                        )
                    )
                    assert patch.status_code == 200 and patch_s < FAST_S, (patch.text, patch_s)
                    # Rate-limited routes fall back to a per-process limiter, neither 500 nor
                    # open: a wrong password is still a 401.
                    wrong = {"email": "ann@example.com", "password": "wrong password"}
                    login, login_s = await _timed(client.post("/api/v1/auth/sessions", json=wrong))
                    assert login.status_code == 401 and login_s < FAST_S, (login.text, login_s)
                    health = (await client.get("/api/v1/infra/health")).json()
                    assert health["services"]["redis"]["status"] == "unhealthy", health
                    assert health["services"]["database"]["status"] == "healthy", health
                    assert not sse.done(), sse.result().types()

                    await asyncio.sleep(max(0.0, 1.5 - (time.monotonic() - down_at)))
                    await asyncio.to_thread(redis.start)
                    outage_s = time.monotonic() - down_at

                    # The SSE client continues and sees the whole run, each event once.
                    live: SseRead = await sse
                    ids = [e.id for e in live.events]
                    _assert_one_whole_run(ids, live.events)
                    # And it is what the stream holds: a client replaying from scratch (or
                    # resuming from any id it acknowledged) gets exactly the same.
                    replay = await read_sse(_events_url(server, thread), _auth(ann["token"]))
                    assert [e.id for e in replay.events] == ids
                    middle = live.events[len(ids) // 2].id
                    resumed = await read_sse(
                        _events_url(server, thread),
                        {**_auth(ann["token"]), "Last-Event-ID": middle},
                    )
                    assert [e.id for e in resumed.events] == ids[len(ids) // 2 + 1 :]

                    # The websocket subscriber is still there: it hears about the change made
                    # during the outage (resync) and about the next one.
                    first = await socket.event(op, 10)
                    assert first.kind == "next" and not first.errors, first
                    assert first.data["scheduleItemChanged"]["item"]["title"] == "during"
                    again = await client.patch(
                        f"/api/v1/schedule-items/{item_id}",
                        json={"title": "after"},
                        headers=_auth(ann["token"]),
                    )
                    assert again.status_code == 200, again.text
                    second = await socket.event(op, 10)
                    assert second.data["scheduleItemChanged"]["item"]["title"] == "after"

                    health = (await client.get("/api/v1/infra/health")).json()
                    assert health["status"] == "healthy", health
                    print(f"redis outage {outage_s:.2f}s; run events {len(ids)}")


# --- the API server restarted ------------------------------------------------------------------


@contextlib.contextmanager
def _worker(root: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "worker.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*runtime_api_command(), "worker"],
            cwd=root,
            env=child_env(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while "ready" not in log_path.read_text(errors="replace"):
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_server_restart_loses_no_event_for_resuming_clients(tmp_path: Path) -> None:
    assert BACKEND.redis_url is not None
    async with fresh_database() as database_url:
        env = _base_env(
            database_url,
            BACKEND.redis_url,
            AGENT_WORKER_IN_SERVER="false",
            AGENT_MODEL_CHUNK_DELAY_S="0.15",
        )
        await _migrate(tmp_path, env)
        try:
            with _worker(tmp_path / "worker", env):
                async with _serving(tmp_path / "a", env) as first:
                    ann = await sign_up(first, "ann")
                    thread = str(uuid.uuid4())
                    auth = _auth(ann["token"])
                    # Two clients, so that the shared per-thread reader is exercised too.
                    readers = [
                        asyncio.create_task(
                            read_sse(_events_url(first, thread), auth, until=lambda _: False)
                        )
                        for _ in range(2)
                    ]
                    await asyncio.sleep(0.3)
                    await _post_run(first, ann["token"], run_input(thread, "r1", "hello there"))
                    probe = await read_sse(_events_url(first, thread), auth, until=_content_seen(3))
                    assert probe.status == 200
                    # SIGTERM: the open SSE responses end at once, cleanly (no cut-off chunk),
                    # instead of holding the shutdown for uvicorn's graceful timeout.
                    stopped_at = time.monotonic()
                    first.process.terminate()
                    before = await asyncio.gather(*readers)  # ends without an exception
                    ended_s = time.monotonic() - stopped_at
                    await asyncio.to_thread(first.process.wait, 15)
                    exited_s = time.monotonic() - stopped_at
                assert ended_s < FAST_S, ended_s
                assert exited_s < 5, exited_s
                for read in before:
                    assert read.status == 200 and read.events, read.types()
                    assert "RUN_FINISHED" not in read.types(), "the run ended before the restart"

                # The run went on in the worker meanwhile; a new server takes the clients back.
                async with _serving(tmp_path / "b", env) as second:
                    after = await asyncio.gather(
                        *(
                            read_sse(
                                _events_url(second, thread),
                                {**auth, "Last-Event-ID": read.events[-1].id},
                                timeout_s=30,
                            )
                            for read in before
                        )
                    )
                    replay = await read_sse(_events_url(second, thread), auth, timeout_s=30)
                for read, rest in zip(before, after, strict=True):
                    events = read.events + rest.events
                    ids = [e.id for e in events]
                    _assert_one_whole_run(ids, events)
                    assert ids == [e.id for e in replay.events]
                print(f"SSE ended {ended_s:.2f}s after SIGTERM; server exited in {exited_s:.2f}s")
        finally:
            await _forget_prefix(env["REDIS_PREFIX"])
