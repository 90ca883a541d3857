"""OpenTelemetry traces as a collector receives them (docs/operations.md, "Traces").

Real `runtime-api` processes export over OTLP/HTTP to a receiver in the test process. One trace
follows a run from `POST /api/v1/agent/runs` through the queue to the process that executes it
(a `runtime-api worker` on PostgreSQL + Redis, the server itself on the embedded backend), down
to its model calls and its tool call; no secret rides along. Without `OTEL_*`, no tracer provider
is installed and no instrumentation even imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from redis.asyncio import Redis

from config import Settings
from observability.tracing import requested_exporters
from server.app import create_app
from tests.support.agent import new_thread, read_sse, run_input
from tests.support.backend import detect
from tests.support.multiprocess import fresh_database, shared_env, sign_up
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver, tracing_env
from tests.support.server_process import REPO_ROOT, ServerProcess, run_cli, running_server
from tests.test_agent_workers import running_worker

BACKEND = detect()
PASSWORD = "correct horse"  # sign_up's


@contextlib.asynccontextmanager
async def traced_deployment(root: Path, receiver: OtlpReceiver) -> AsyncIterator[ServerProcess]:
    """A server exporting its spans to `receiver`, and on PostgreSQL + Redis a worker process
    executing the runs, exporting too (both logging JSON lines)."""
    if not BACKEND.real:
        env = {
            **tracing_env(receiver),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST_KIB": "1024",
        }
        with running_server(root / "server", env) as server:
            yield server
        return
    assert BACKEND.redis_url is not None
    async with fresh_database() as database_url:
        env = shared_env(
            database_url,
            BACKEND.redis_url,
            "tracing",
            AGENT_WORKER_IN_SERVER="false",
            LOG_FORMAT="json",  # the worker's own logging set-up, in JSON too
            **tracing_env(receiver),
        )
        migrated = await asyncio.to_thread(run_cli, "migrate", cwd=root, env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        try:
            with contextlib.ExitStack() as stack:  # the worker and the server start side by side
                worker = running_worker(root / "worker", env, "traced")
                worker_process, server = await asyncio.gather(
                    asyncio.to_thread(stack.enter_context, worker),
                    asyncio.to_thread(stack.enter_context, running_server(root / "server", env)),
                )
                yield server
                lines = worker_process.log().splitlines()
                ready = [json.loads(line) for line in lines]  # every line is JSON
                assert any("ready" in entry["message"] for entry in ready), lines
        finally:
            redis = Redis.from_url(BACKEND.redis_url)
            async for key in redis.scan_iter(match=f"{env['REDIS_PREFIX']}*"):
                await redis.delete(key)
            await redis.aclose()


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted(s.name for s in spans))
    return found[0]


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    """The names of `span`'s parent, grandparent, ... up to its trace's root."""
    by_id = {s.span_id: s for s in spans}
    names = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        names.append(span.name)
    return names


def run_traced(spans: list[ReceivedSpan]) -> bool:
    """Every span the test looks at has arrived (a span is exported once it ended: the SSE
    request's when the server saw the client go, the GraphQL request's after its operation's)."""
    names = {s.name for s in spans}
    expected = {
        "POST /api/v1/agent/runs",
        "GET /api/v1/agent/runs/{thread_id}/events",
        "agent run",
        "tool list_schedule_items",
        "mutation SignIn",
        "POST /graphql",
        "GET /api/v1/calendar/feeds/{token}.ics",
    }
    return expected <= names and sum(s.name == "chat offline" for s in spans) >= 2


async def test_one_trace_follows_a_run_from_the_request_to_the_worker(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        async with traced_deployment(tmp_path, receiver) as server:
            ann = await sign_up(server, "ann")
            thread = new_thread()
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
                response = await client.post(
                    "/api/v1/agent/runs",
                    json=run_input(thread, "r1", "what's on my schedule"),
                    headers={"Authorization": f"Bearer {ann['token']}"},
                )
                assert response.status_code == 202, response.text
                # The browser's way to follow a run: the token in the query string.
                read = await read_sse(
                    f"{server.base_url}/api/v1/agent/runs/{thread}/events",
                    params={"access_token": ann["token"]},
                    timeout_s=30,
                )
                assert read.types()[-1] == "RUN_FINISHED", read.types()
                # A password written into the document itself.
                sign_in = (
                    'mutation SignIn { signIn(input: {email: "ann@example.com", '
                    f'password: "{PASSWORD}"}}) {{ accessToken }} }}'
                )
                response = await client.post("/graphql", json={"query": sign_in})
                assert "errors" not in response.json(), response.text
                # A calendar feed: its secret token is the URL's path.
                feed = await client.post(
                    "/api/v1/calendar/feeds", headers={"Authorization": f"Bearer {ann['token']}"}
                )
                feed_token = feed.json()["token"]
                fetched = await client.get(f"/api/v1/calendar/feeds/{feed_token}.ics")
                assert fetched.status_code == 200, fetched.text
                # The access log names the feed's path without its token.
                server.wait_for_log(r"/api/v1/calendar/feeds/\[redacted\]\.ics")
                assert feed_token not in server.log()
            spans = await asyncio.to_thread(receiver.wait_for, run_traced)

    request = one(spans, "POST /api/v1/agent/runs")
    trace = [s for s in spans if s.trace_id == request.trace_id]
    run = one(trace, "agent run")
    executor = "runtime-api-worker" if BACKEND.real else "runtime-api"
    assert (request.service, request.kind) == ("runtime-api", "SERVER")
    assert (run.service, run.kind) == (executor, "CONSUMER")
    # The queue hand-off: the run continues the request's trace through the job's labels.
    assert ancestors(run, trace)[-1] == request.name, ancestors(run, trace)
    assert "agent.execute_run publish" in ancestors(run, trace)
    assert run.attributes["agent.run.id"] == "r1"
    assert run.attributes["agent.run.status"] == "finished"
    model_calls = [s for s in trace if s.name == "chat offline"]
    assert len(model_calls) == 2  # the tool call, then the answer to its result
    for call in [*model_calls, one(trace, "tool list_schedule_items")]:
        assert call.service == executor and run.name in ancestors(call, trace), call
    assert model_calls[0].attributes["gen_ai.request.model"] == "offline"
    if BACKEND.real:  # asyncpg and redis are instrumented (SQLite is not)
        systems = {(s.service, s.attributes.get("db.system")) for s in trace}
        assert {("runtime-api", "redis"), (executor, "postgresql")} <= systems, systems

    operation = one(spans, "mutation SignIn")
    assert ancestors(operation, spans) == ["POST /graphql"]
    assert operation.attributes["graphql.operation.type"] == "mutation"

    # No secret in any span: neither the password of the document nor the SSE query's token.
    events = one(spans, "GET /api/v1/agent/runs/{thread_id}/events")
    assert any("access_token=[redacted]" in str(v) for v in events.attributes.values()), events
    feed_span = one(spans, "GET /api/v1/calendar/feeds/{token}.ics")
    assert any("/feeds/[redacted].ics" in str(v) for v in feed_span.attributes.values())
    leaked = [
        (s.name, key)
        for s in spans
        for key, value in s.attributes.items()
        if ann["token"] in str(value) or PASSWORD in str(value) or feed_token in str(value)
    ]
    assert leaked == []


PROBE = """
import sys
from opentelemetry import trace
from server.app import create_app

app = create_app()
print(
    type(trace.get_tracer_provider()).__name__,
    "observability.tracing_setup" in sys.modules,  # the SDK's set-up
    "opentelemetry.instrumentation" in sys.modules,
    "schema.tracing_extension" in sys.modules,  # GraphQL's spans
    getattr(app, "_is_instrumented_by_opentelemetry", False),
)
"""


def installed(app: FastAPI) -> str:
    """What building `app` installed in this process, as PROBE prints it."""
    return " ".join(
        str(x)
        for x in (
            type(trace.get_tracer_provider()).__name__,
            "observability.tracing_setup" in sys.modules,
            "opentelemetry.instrumentation" in sys.modules,
            "schema.tracing_extension" in sys.modules,
            getattr(app, "_is_instrumented_by_opentelemetry", False),
        )
    )


def test_without_otel_variables_no_provider_and_no_instrumentation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    app = create_app(Settings(jwt_secret="x" * 48), manage_database=False)
    assert installed(app) == "ProxyTracerProvider False False False False"

    # The same probe sees it all in a process whose environment asks for traces.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"  # answers nothing
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "TracerProvider True True True True"


def test_the_standard_variables_decide_whether_tracing_is_on() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert requested_exporters({}) == []
    assert requested_exporters(endpoint) == ["otlp"]
    assert requested_exporters({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces"}) == [
        "otlp"
    ]
    assert requested_exporters({"OTEL_TRACES_EXPORTER": "console"}) == ["console"]
    assert requested_exporters({**endpoint, "OTEL_SDK_DISABLED": "true"}) == []
    assert requested_exporters({**endpoint, "OTEL_TRACES_EXPORTER": "none"}) == []
    assert requested_exporters({"OTEL_SERVICE_NAME": "api"}) == []  # a name exports nothing
