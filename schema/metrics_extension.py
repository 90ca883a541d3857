"""GraphQL operations in the metrics (observability.metrics): counted by operation name and
type, with the `extensions.code` of every error they answered, and running subscriptions
gauged. Used instead of `ErrorCodes` when metrics are configured.

It is `ErrorCodes` with a few lines around the same hooks, not an extension of its own: every
extension costs each operation a context manager per hook, more than the counting itself.
Each hook runs `ErrorCodes`' own first, so the errors read here already carry their codes.
Names are bounded (`operation_label`): anonymous operations share `_anonymous`, a document that
never ran an operation (unparsable, invalid, an unknown operation name) `_invalid`.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from observability.metrics import (
    INVALID,
    SUBSCRIPTIONS_ACTIVE,
    observe_graphql,
    operation_label,
)
from schema.errors import ErrorCodes

_NO_CODE = "NONE"


def _codes(errors: list[GraphQLError] | None) -> list[str]:
    return [str((e.extensions or {}).get("code") or _NO_CODE) for e in errors or ()]


class ErrorCodesAndMetrics(ErrorCodes):
    _kind = "unknown"  # known once the document validated: its operation runs
    _subscribed = False
    _streamed_codes: tuple[str, ...] = ()

    def on_validate(self) -> Iterator[None]:
        yield from super().on_validate()
        context = self.execution_context
        if context.pre_execution_errors:
            return
        try:
            self._kind = context.operation_type.value
        except Exception:  # the document names no runnable operation
            return
        if self._kind == OperationType.SUBSCRIPTION.value:
            SUBSCRIPTIONS_ACTIVE.inc()
            self._subscribed = True

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        yield from super().on_stream_result(result)
        self._streamed_codes += tuple(_codes(getattr(result, "errors", None)))

    def on_operation(self) -> Iterator[None]:
        try:
            yield from super().on_operation()
        finally:
            if self._subscribed:
                SUBSCRIPTIONS_ACTIVE.dec()
            self._record()

    def _record(self) -> None:
        context = self.execution_context
        kind = self._kind
        name = INVALID if kind == "unknown" else operation_label(context.operation_name)
        errors = getattr(context.result, "errors", None) or context.pre_execution_errors
        codes = self._streamed_codes or _codes(errors)
        observe_graphql(name, kind, codes)
