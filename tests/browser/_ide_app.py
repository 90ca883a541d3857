"""Minimal FastAPI app serving the offline GraphiQL page (browser-test fixture)."""

from __future__ import annotations

import strawberry
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter

from server.graphiql import mount_graphiql_assets, render_graphiql_page


@strawberry.type
class Health:
    status: str


@strawberry.type
class Query:
    @strawberry.field
    def health(self) -> Health:
        return Health(status="ok")


class OfflineGraphQLRouter(GraphQLRouter[None, None]):
    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(render_graphiql_page())


app = FastAPI()
app.include_router(OfflineGraphQLRouter(strawberry.Schema(query=Query)), prefix="/graphql")
mount_graphiql_assets(app)
