"""Mounting the schema: GraphQL over HTTP, websockets (both protocols) and offline GraphiQL."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from config import Settings
from infra.services import Services
from schema import build_schema
from schema.context import Context
from server.graphiql import render_graphiql_page

GRAPHQL_PATH = "/graphql"


class OfflineGraphiQLRouter(GraphQLRouter[Context, None]):
    """Serves GraphiQL with its scripts from this server instead of a CDN."""

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(render_graphiql_page())


def graphql_router(settings: Settings, services: Services) -> OfflineGraphiQLRouter:
    async def get_context() -> Context:
        return Context(services)

    return OfflineGraphiQLRouter(
        build_schema(settings),
        path=GRAPHQL_PATH,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        context_getter=get_context,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        allowed_origins=settings.cors_origins,
        include_in_schema=False,
    )
