"""Serving the metrics: the Prometheus text of this process (or of all of `serve`'s processes),
the bearer-token check, and the separate `METRICS_PORT` listener.

Where the metrics live:
- `runtime-api serve` with metrics configured runs in prometheus-client's multiprocess mode: it
  creates `PROMETHEUS_MULTIPROC_DIR` (a fresh temporary folder, or empties the one it is given)
  before uvicorn starts its workers, and removes the folder it created when it exits. Every
  scrape, on the listener or on any worker's `/metrics`, reads all workers' files, so one
  target covers the whole server whatever `--workers` says.
- `runtime-api worker` serves its own registry on its own `METRICS_PORT` (one target per worker
  process; give each worker on a host its own port), unless `PROMETHEUS_MULTIPROC_DIR` is set.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from observability.multiprocess_dir import multiprocess_dir

METRICS_PATH = "/metrics"
UNAUTHORIZED_BODY = (
    b'{"type":"about:blank","title":"Unauthorized","status":401,'
    b'"detail":"The metrics need the bearer token of METRICS_TOKEN."}'
)
PROBLEM_JSON = "application/problem+json"


def mark_process_dead() -> None:
    """Drop this process's live gauges (open streams, pool) from the shared folder when it
    stops, so a restarted worker does not leave its last values behind."""
    directory = multiprocess_dir()
    if directory is not None:
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def scrape() -> tuple[bytes, str]:
    """The exposition body and its content type."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def token_accepted(authorization: str | None, token: str | None) -> bool:
    """True without a token, or when `Authorization` is `Bearer <token>` (compared in constant
    time, so the answer's timing does not reveal how much of a guess was right)."""
    if token is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class _Handler(BaseHTTPRequestHandler):
    token: str | None = None

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != METRICS_PATH:
            self._answer(404, b"not found\n", "text/plain; charset=utf-8")
            return
        if not token_accepted(self.headers.get("Authorization"), self.token):
            self._answer(401, UNAUTHORIZED_BODY, PROBLEM_JSON, {"WWW-Authenticate": "Bearer"})
            return
        body, content_type = scrape()
        self._answer(200, body, content_type)

    def _answer(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """A scrape a second is no news: the listener logs nothing."""


def start_listener(host: str, port: int, token: str | None) -> ThreadingHTTPServer:
    """Serve `GET /metrics` on host:port from a daemon thread (the caller's event loop, or
    uvicorn's, never waits on a scrape). With a token, the listener asks for it too."""
    handler = type("MetricsHandler", (_Handler,), {"token": token})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True)
    thread.start()
    return server
