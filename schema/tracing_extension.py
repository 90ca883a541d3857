"""A span per GraphQL operation (and per field with a resolver of ours), when tracing is on:
Strawberry's `OpenTelemetryExtension`, minus what would put secrets into traces.

Strawberry records the whole document as the operation span's `query` attribute and every
resolver's arguments as `graphql.param.*`; a sign-in's password travels in either. This one
records neither: the operation's name and type (OpenTelemetry's GraphQL conventions) and, for
resolver spans, the field's path and parent type only.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry.trace import SpanKind
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing.opentelemetry import OpenTelemetryExtension
from typing_extensions import override

_MAX_NAME = 100  # a client names its operations: keep span names short


class GraphQLTracing(OpenTelemetryExtension):
    def on_operation(self) -> Generator[None, None, None]:
        span = self._tracer.start_span("GraphQL operation", kind=SpanKind.SERVER)
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        try:
            yield
        finally:
            context = self.execution_context
            try:
                kind = context.operation_type.value
            except Exception:  # no document (a syntax error) or no such operation
                kind = "operation"
            name = (context.operation_name or "")[:_MAX_NAME]
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
            span.update_name(f"{kind} {name}".strip())
            span.end()

    @override
    def filter_resolver_args(
        self, args: dict[str, Any], info: GraphQLResolveInfo[Any]
    ) -> dict[str, Any]:
        return {}
