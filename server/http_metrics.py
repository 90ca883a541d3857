"""Counts and times every HTTP request by route template and status (observability.metrics),
and serves `/metrics` on the app itself when `METRICS_TOKEN` is set.

The label is the template of the route that answered (`/api/v1/agent/runs/{thread_id}/events`),
never the raw path, so ids cannot grow the set of series; requests no route matched share
`unmatched`. The timer runs until the response's last byte: an SSE stream counts its whole life.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.exposition import METRICS_PATH, scrape, token_accepted
from observability.metrics import observe_http
from rest_compat.problems import problem_response

UNMATCHED = "unmatched"


def _route_template(scope: Scope) -> str:
    # A route of an included router knows only its own part of the path; FastAPI keeps the
    # whole template (prefixes included) in the route context it matched.
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get("effective_route_context") if fastapi_scope else None
    for matched in (context, scope.get("route")):
        path = getattr(matched, "path_format", None) or getattr(matched, "path", None)
        if isinstance(path, str) and path:
            return path
    return UNMATCHED


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            observe_http(
                scope["method"], _route_template(scope), status, time.perf_counter() - started
            )


def install_metrics_route(app: FastAPI, token: str) -> None:
    """`GET /metrics` behind `Authorization: Bearer <token>`; a wrong or missing token is 401
    problem+json. Without a token the route does not exist (404), whatever the environment."""

    async def metrics(request: Request) -> Response:
        if not token_accepted(request.headers.get("authorization"), token):
            detail = "The metrics need the bearer token of METRICS_TOKEN."
            return problem_response(request, 401, detail, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = scrape()
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    app.add_api_route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)
