"""The ASGI application: REST under /api/v1, GraphQL (HTTP + websockets) at /graphql."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent_runtime.chat_model import ChatModel
from agent_runtime.worker import AgentWorker
from config import Settings, get_settings
from infra.database import apply_migrations, close_database, init_database
from infra.live_sessions import follow_revocations
from infra.mail import Mailer
from infra.metric_samplers import sample_forever
from infra.services import Services
from infra.stream_caps import StreamCaps, build_stream_caps, build_ws_caps
from infra.tasks import stop_task
from observability.exposition import mark_process_dead
from observability.tracing import flush_tracing, setup_tracing
from rest_compat.problems import install_problem_handlers
from rest_compat.router import router as rest_router
from server.body_limit import BodyLimitMiddleware
from server.graphiql import mount_graphiql_assets
from server.graphql_app import graphql_router
from server.http_metrics import HttpMetricsMiddleware, install_metrics_route
from server.log_redaction import install_log_redaction
from server.request_id import RequestIdMiddleware
from server.swagger_ui import install_swagger_ui
from server.ws_limits import configure_websockets

log = logging.getLogger("runtime_api")


def create_app(
    settings: Settings | None = None,
    *,
    mailer: Mailer | None = None,
    manage_database: bool = True,
    chat_model: ChatModel | None = None,
) -> FastAPI:
    """Build the app. Tests pass `manage_database=False` and own the database themselves, and may
    pass the chat model the in-process worker uses (otherwise AGENT_MODEL decides)."""
    settings = settings or get_settings()
    install_log_redaction()  # `?access_token=` of the SSE route stays out of the log
    tracing = setup_tracing("runtime-api")  # only when OTEL_* ask for it (docs/operations.md)
    services = Services.build(settings, mailer)
    stream_caps = build_stream_caps(settings, services.redis)
    ws_caps = build_ws_caps(settings, services.redis)
    app = FastAPI(
        title="Runtime API",
        version="1.0",
        summary="Accounts, friends, shared schedule items, inbox and an AG-UI agent runtime.",
        lifespan=_lifespan(
            settings,
            services,
            [stream_caps, ws_caps],
            manage_database=manage_database,
            chat_model=chat_model,
        ),
        docs_url=None,  # our own /docs, with its assets served offline (below)
        redoc_url=None,
    )
    app.state.services = services
    app.state.stream_caps = stream_caps
    app.state.ws_caps = ws_caps
    _add_routes(app, settings, services)
    _add_middlewares(app, settings, tracing=tracing)
    return app


def _lifespan(
    settings: Settings,
    services: Services,
    caps: list[StreamCaps],
    *,
    manage_database: bool,
    chat_model: ChatModel | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the database, the run queue and the background tasks; stop them in reverse."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_database:
            await init_database(settings)
            if not settings.uses_postgres:  # the embedded default migrates itself
                await apply_migrations(settings)
        await services.run_queue.start()
        revocations = asyncio.create_task(
            follow_revocations(services.events, services.live_sessions), name="revocations"
        )
        worker = AgentWorker(services, chat_model) if settings.runs_agent_in_server else None
        if worker is not None:
            await worker.start()
        sampler = asyncio.create_task(sample_forever()) if settings.metrics_enabled else None
        try:
            yield
        finally:
            if sampler is not None:
                await stop_task(sampler)
                mark_process_dead()
            await stop_task(revocations)
            if worker is not None:
                await worker.stop()
            for cap in caps:
                await cap.close()
            await services.close()
            if manage_database:
                await close_database()
            flush_tracing()

    return lifespan


def _add_routes(app: FastAPI, settings: Settings, services: Services) -> None:
    """REST, GraphQL (HTTP and websockets), and the pages and endpoints the settings turn on."""
    install_problem_handlers(app)
    app.include_router(rest_router)
    graphql = graphql_router(settings, services)
    configure_websockets(graphql, settings.ws_connection_init_timeout_s)
    app.include_router(graphql)
    app.state.subscription_groups = graphql.subscription_groups  # tests read its counters
    if settings.graphiql_enabled:
        mount_graphiql_assets(app)
    if not settings.is_production:
        install_swagger_ui(app)
    if settings.metrics_token is not None:  # otherwise /metrics is 404 (docs/operations.md)
        install_metrics_route(app, settings.metrics_token.get_secret_value())


def _add_middlewares(app: FastAPI, settings: Settings, *, tracing: bool) -> None:
    """From the innermost to the outermost: each `add_middleware` wraps those added before it."""
    # Innermost of the middlewares: its 413 gets the CORS headers and the request id too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Retry-After", "X-Request-ID"],
        )
    # Outermost: it offers its `send` to SSE responses, whose bodies skip the wrappers inside it
    # (infra/direct_send.py); a middleware that changes response bodies must not go inside it.
    app.add_middleware(RequestIdMiddleware)
    if tracing:
        from server.http_tracing import trace_http

        trace_http(app)  # outside every middleware: one server span per request
    if settings.metrics_enabled:  # outermost: it also counts what the others answer
        app.add_middleware(HttpMetricsMiddleware)
