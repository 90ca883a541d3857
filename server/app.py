"""The ASGI application: REST under /api/v1, GraphQL (HTTP + websockets) at /graphql."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent_runtime.chat_model import ChatModel
from agent_runtime.worker import AgentWorker
from config import Settings, get_settings
from infra.database import apply_migrations, close_database, init_database
from infra.mail import Mailer
from infra.services import Services
from rest_compat.problems import install_problem_handlers
from rest_compat.router import router as rest_router
from server.graphiql import mount_graphiql_assets
from server.graphql_app import graphql_router
from server.request_id import RequestIdMiddleware

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
    services = Services.build(settings, mailer)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_database:
            await init_database(settings)
            if not settings.uses_postgres:  # the embedded default migrates itself
                await apply_migrations(settings)
        await services.run_queue.start()
        worker = AgentWorker(services, chat_model) if settings.runs_agent_in_server else None
        if worker is not None:
            await worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await services.close()
            if manage_database:
                await close_database()

    app = FastAPI(
        title="Runtime API",
        version="1.0",
        summary="Accounts, friends, shared schedule items, inbox and an AG-UI agent runtime.",
        lifespan=lifespan,
        docs_url="/docs" if not settings.is_production else None,
        redoc_url=None,
    )
    app.state.services = services
    install_problem_handlers(app)
    app.include_router(rest_router)
    app.include_router(graphql_router(settings, services))
    if settings.graphiql_enabled:
        mount_graphiql_assets(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Retry-After", "X-Request-ID"],
        )
    app.add_middleware(RequestIdMiddleware)
    return app
