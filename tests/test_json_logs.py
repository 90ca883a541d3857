"""`LOG_FORMAT=json` (docs/operations.md, "Logs"): a real `runtime-api serve` writes nothing but
JSON objects, one a line, each with time, level, logger and message; the lines written while a
request is handled carry its request id, and, with tracing on, the trace id of its span.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.multiprocess import sign_up
from tests.support.otlp_receiver import ReceivedSpan, otlp_receiver, tracing_env
from tests.support.server_process import ServerProcess, running_server

PASSWORD = "correct horse"  # sign_up's


@contextlib.contextmanager
def json_logging_server(root: Path, **extra: str) -> Iterator[ServerProcess]:
    """On SQLite whichever the suite's backend: what a line looks like does not depend on it."""
    env = {
        "LOG_FORMAT": "json",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ARGON2_MEMORY_COST_KIB": "1024",
        **extra,
    }
    with running_server(root / "server", env) as server:
        yield server


def entries(server: ServerProcess) -> list[dict[str, Any]]:
    """Every line of the server's output (stdout and stderr), each parsed as JSON."""
    parsed = []
    for line in server.log().splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


def requests_traced(spans: list[ReceivedSpan]) -> bool:
    return sum(s.name == "GET /api/v1/users/me" for s in spans) >= 2


async def test_every_line_is_json_with_the_request_id_and_trace_id(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        with json_logging_server(tmp_path, **tracing_env(receiver)) as server:
            ann = await sign_up(server, "ann")  # its code is read from a JSON line
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
                me = await client.get(
                    "/api/v1/users/me",
                    headers={"Authorization": f"Bearer {ann['token']}", "X-Request-ID": "mine-1"},
                )
                assert me.status_code == 200, me.text
                anonymous = await client.get("/api/v1/users/me", headers={"X-Request-ID": "mine-2"})
                assert anonymous.status_code == 401, anonymous.text
            await asyncio.to_thread(server.wait_for_log, r'"request_id":"mine-2"')
            spans = await asyncio.to_thread(receiver.wait_for, requests_traced)
        logged = entries(server)  # every line, the server's last ones included

    for entry in logged:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
        assert datetime.fromisoformat(entry["time"]).utcoffset() is not None, entry
    assert any(
        e["logger"] == "uvicorn.error" and "startup complete" in e["message"] for e in logged
    )
    # The console mailer's mail (a message of several lines) is one entry of the sign-up.
    mail = next(e for e in logged if e["logger"] == "infra.mail.console")
    assert "\n" in mail["message"] and mail.get("request_id"), mail

    trace_ids = {s.trace_id for s in spans if s.name == "GET /api/v1/users/me"}
    for request_id, status in [("mine-1", 200), ("mine-2", 401)]:
        [access] = [e for e in logged if e.get("request_id") == request_id]
        assert access["logger"] == "uvicorn.access", access
        assert access["message"].endswith(f'"GET /api/v1/users/me HTTP/1.1" {status}'), access
        assert access["trace_id"] in trace_ids, (access, trace_ids)  # the request's own span
    assert not [e for e in logged if PASSWORD in json.dumps(e) or ann["token"] in json.dumps(e)]
