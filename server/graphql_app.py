"""Mounting the schema: GraphQL over HTTP, websockets (both protocols) and offline GraphiQL."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import CompleteMessage, ErrorMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError

from config import Settings
from infra.services import Services
from schema import build_schema
from schema.context import Context
from server.graphiql import render_graphiql_page

GRAPHQL_PATH = "/graphql"


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy `graphql-ws` protocol (subscriptions-transport-ws) runs whatever operation a
    `start` message names, as its clients expect: Apollo's old WebSocketLink sends queries and
    mutations over the socket too. Strawberry's handler runs subscriptions only ("queries are
    not allowed"); this one is the same but for `schema.stream`, which runs any operation."""

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        try:
            result_source = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = result_source
            is_first_result = True
            async for result in result_source:
                if is_first_result and isinstance(result, PreExecutionError):
                    assert result.errors
                    await self.send_message(
                        ErrorMessage(
                            type="error", id=operation_id, payload=result.errors[0].formatted
                        )
                    )
                    return
                if not isinstance(result, ExecutionResult):  # @defer/@stream: not enabled
                    message = "Incremental delivery is not supported over graphql-ws"
                    await self.send_message(
                        ErrorMessage(type="error", id=operation_id, payload={"message": message})
                    )
                    return
                await self.send_data_message(result, operation_id)
                is_first_result = False
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)


class OfflineGraphiQLRouter(GraphQLRouter[Context, None]):
    """Serves GraphiQL with its scripts from this server instead of a CDN."""

    graphql_ws_handler_class = LegacyWSHandler

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
