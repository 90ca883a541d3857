"""Mounting the schema: GraphQL over HTTP, websockets (both protocols) and offline GraphiQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import overload

import orjson
from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import CompleteMessage, ErrorMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.unset import UNSET
from typing_extensions import override

from config import Settings
from infra.services import Services
from resolvers.errors import ErrorCode
from schema import build_schema
from schema.context import Context
from schema.errors import format_error
from server.graphiql import render_graphiql_page
from server.subscription_groups import (
    GroupUnavailable,
    SubscriptionGroups,
    frame_head,
    overflow_closer,
)
from subscriptions.fanout import SlowConsumer

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def _accept_qualities(accept: str) -> dict[str, float]:
    """`Accept`'s media ranges and their qualities (an unreadable `q` counts as 0)."""
    qualities: dict[str, float] = {}
    for entry in accept.split(","):
        media_range, *params = (part.strip() for part in entry.split(";"))
        if not media_range:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        media_range = media_range.lower()
        qualities[media_range] = max(quality, qualities.get(media_range, 0.0))
    return qualities


def response_media_type(accept: str | None) -> str:
    """The media type of a GraphQL over HTTP response (GraphQL over HTTP, "Accept").

    `application/graphql-response+json` when the client names it (a wildcard does not count)
    and likes it at least as much as `application/json`; `application/json` otherwise, which
    is also what a request without `Accept`, or with `*/*`, gets: legacy clients expect it.
    """
    qualities = _accept_qualities(accept or "")
    preferred = qualities.get(GRAPHQL_RESPONSE_JSON, 0.0)
    legacy = qualities.get(JSON, qualities.get("application/*", qualities.get("*/*", 0.0)))
    return GRAPHQL_RESPONSE_JSON if preferred > 0 and preferred >= legacy else JSON


def _is_request_error(result: ExecutionResult) -> bool:
    """The operation never ran: the document did not parse or validate, or its variables
    could not be coerced (graphql-core's errors of that stage have no path; a field's have)."""
    if isinstance(result, PreExecutionError):
        return True
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


UNGROUPED, COMPLETED, CLOSED = "ungrouped", "completed", "closed"


async def deliver_grouped(
    view: object,
    context: Context,
    websocket: TextFrameWebSocketAdapter,
    message_type: str,
    operation_id: str,
    query: object,
    variables: dict[str, object] | None,
    operation_name: object,
) -> str:
    """Runs the operation on the grouped path (server/subscription_groups.py) when it can:
    COMPLETED when its stream ended (the protocol's `complete` is due), CLOSED when the socket
    is gone or being closed, UNGROUPED when it must take the per-subscriber path (nothing was
    sent for it then)."""
    groups = getattr(view, "subscription_groups", None)
    if not isinstance(groups, SubscriptionGroups):
        return UNGROUPED
    on_overflow, closing = overflow_closer(websocket.close)
    grouped = await groups.join(context, query, variables, operation_name, on_overflow)
    if grouped is None:
        return UNGROUPED
    try:
        await grouped.deliver(frame_head(message_type, operation_id), websocket.send_text)
    except GroupUnavailable:
        return UNGROUPED
    except (SlowConsumer, WebSocketDisconnected):
        return CLOSED
    except Exception:
        if closing:  # a send racing the close of a slow consumer's socket
            return CLOSED
        raise
    finally:
        for task in closing:
            with contextlib.suppress(Exception):
                await task
    return COMPLETED


class GroupedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """`graphql-transport-ws`, running eligible subscriptions on the grouped path."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        try:
            outcome = await deliver_grouped(
                self.view,
                self.context,
                self.websocket,  # type: ignore[arg-type]
                "next",
                operation.id,
                operation.query,
                operation.variables,
                operation.operation_name,
            )
        except Exception as error:  # logged and completed, as Strawberry's own path does
            await self.handle_task_exception(error)
            outcome = COMPLETED
        if outcome == UNGROUPED:
            await super().run_operation(operation)
        elif outcome == COMPLETED:
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        else:
            self.operations.pop(operation.id, None)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy `graphql-ws` protocol (subscriptions-transport-ws) runs whatever operation a
    `start` message names, as its clients expect: Apollo's old WebSocketLink sends queries and
    mutations over the socket too. Strawberry's handler runs subscriptions only ("queries are
    not allowed"); this one is the same but for `schema.stream`, which runs any operation.
    Eligible subscriptions take the grouped path."""

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        try:
            outcome = await deliver_grouped(
                self.view,
                self.context,
                self.websocket,  # type: ignore[arg-type]
                "data",
                operation_id,
                query,
                variables,
                operation_name,
            )
        except asyncio.CancelledError:  # `stop`, or the socket closed
            outcome = COMPLETED
        except Exception:
            log.exception("grouped subscription %s failed", operation_id)
            outcome = COMPLETED
        if outcome == UNGROUPED:
            await self._stream_results(operation_id, query, operation_name, variables)
            return
        try:
            if outcome == COMPLETED:
                with contextlib.suppress(WebSocketDisconnected):
                    await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)

    async def _stream_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        """The per-subscriber path: the operation runs for this socket alone."""
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


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends every protocol message as a text frame. Both websocket protocols define their
    messages as stringified JSON; Strawberry sends whatever `encode_json` returns, and our
    orjson bytes went out as binary frames, which every stock client (gql, graphql-ws in a
    browser, Apollo) refuses or cannot parse."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        await self.send_text(encoded.decode() if isinstance(encoded, bytes) else encoded)

    async def send_text(self, text: str) -> None:
        """One message already encoded (the grouped path splices frames from shared text)."""
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLEndpoint(GraphQLRouter[Context, None]):
    """The whole GraphQL transport at /graphql: HTTP (orjson out, deep JSON refused), both
    websocket protocols in text frames, and GraphiQL with its scripts served from here instead
    of a CDN."""

    graphql_ws_handler_class = LegacyWSHandler
    graphql_transport_ws_handler_class = GroupedTransportWSHandler
    websocket_adapter_class = TextFrameWebSocketAdapter
    subscription_groups: SubscriptionGroups | None = None

    @override
    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(render_graphiql_page())

    def decode_json(self, data: str | bytes) -> object:
        # JSON nested about a thousand levels deep makes the standard library's decoder raise
        # RecursionError, which Strawberry does not catch (a 500 on HTTP, a dead socket task on
        # websockets). As a JSONDecodeError it is what it is: a body we refuse to parse (400 on
        # HTTP, 4400 on graphql-transport-ws; legacy graphql-ws ignores unparsable messages).
        try:
            return json.loads(data)
        except RecursionError:
            text = data.decode(errors="replace") if isinstance(data, bytes) else data
            raise json.JSONDecodeError("JSON nested too deeply", text[:100], 0) from None

    def encode_json(self, data: object) -> str | bytes:
        # orjson: several times faster than the standard library's encoder Strawberry uses,
        # and the same compact JSON. Values orjson refuses (integers beyond 64 bits in a JSON
        # scalar) still go out, through the standard library.
        try:
            return orjson.dumps(data)
        except TypeError:
            return super().encode_json(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            # `ErrorCodes` formats every error of an operation; what Strawberry catches outside
            # of it (an exception in its own machinery) would leave unmasked and uncoded.
            result.errors = [
                e if (e.extensions or {}).get("code") else format_error(e) for e in result.errors
            ]
        response = await super().process_result(request, result)
        if _is_request_error(result):
            request.state.graphql_request_errors = result.errors or []
            if response_media_type(request.headers.get("accept")) == GRAPHQL_RESPONSE_JSON:
                # A request error has no `data` entry (GraphQL spec, "Response Format").
                response.pop("data", None)
        return response

    @overload
    async def run(
        self, request: Request, context: Context = ..., root_value: None = ...
    ) -> Response: ...

    @overload
    async def run(
        self, request: WebSocket, context: Context = ..., root_value: None = ...
    ) -> WebSocket: ...

    async def run(
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        """Strawberry answers every GraphQL response as `application/json` with 200. A client
        that asks for `application/graphql-response+json` gets it, and, as GraphQL over HTTP
        has it for that media type, a request error (no `data`) is a 400 (500 when masked)."""
        response = await super().run(request, context=context, root_value=root_value)
        if not isinstance(request, Request) or type(response) is not Response:
            return response  # a websocket, GraphiQL, a stream
        if response.media_type != JSON:
            return response
        if response_media_type(request.headers.get("accept")) != GRAPHQL_RESPONSE_JSON:
            return response
        response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
        errors: list[GraphQLError] | None = getattr(request.state, "graphql_request_errors", None)
        is_batch = bytes(response.body[:1]) == b"["
        if errors is not None and not is_batch and response.status_code == 200:
            internal = any(
                (e.extensions or {}).get("code") == ErrorCode.INTERNAL.value for e in errors
            )
            response.status_code = 500 if internal else 400
        return response


def graphql_router(settings: Settings, services: Services) -> GraphQLEndpoint:
    async def get_context() -> Context:
        return Context(services)

    router = GraphQLEndpoint(
        build_schema(settings),
        path=GRAPHQL_PATH,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        context_getter=get_context,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        allowed_origins=settings.cors_origins,
        include_in_schema=False,
    )
    router.subscription_groups = SubscriptionGroups(
        router.schema, services, settings, router.encode_json
    )
    return router
