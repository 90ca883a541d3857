"""Every GraphQL error leaves with an `extensions.code` (docs/contract.md §2).

Domain errors keep their message and code; an unreachable PostgreSQL or Redis (however deep in
the cause chain) is SERVICE_UNAVAILABLE with `retryAfter`, never INTERNAL; pydantic validation
and variables graphql-core cannot coerce become BAD_USER_INPUT; errors raised by graphql-core
before execution (syntax, validation, the depth/token/alias caps) are BAD_REQUEST; anything else
is masked as INTERNAL and logged with the request id.

Over HTTP the errors are formatted once the operation ends. Over websockets every result is
sent while the operation runs (a subscription's operation ends only with its stream), so each
result is formatted as it streams, before it is sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, VariableDefinitionNode
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import StreamExecutionResult

from infra.database import RETRY_AFTER_S, UNAVAILABLE_DETAIL, unreachable_service
from resolvers.errors import DomainError, ErrorCode, ServiceUnavailable

log = logging.getLogger("runtime_api.errors")

# What Strawberry raises for a document it cannot run as asked (unknown operation name, an
# operation type the transport does not allow, no query): the client's mistake.
_REQUEST_ERRORS = (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError)


def validation_issues(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [to_camel(p) if isinstance(p, str) else p for p in e["loc"]], "msg": e["msg"]}
        for e in exc.errors()
    ]


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), **extensions},
    )


def _coded(error: GraphQLError, code: ErrorCode) -> GraphQLError:
    if (error.extensions or {}).get("code"):  # already formatted
        return error
    return _with(error, error.message, {"code": code.value})


def _is_variable_error(error: GraphQLError) -> bool:
    """graphql-core could not coerce a variable of the request (a value the enum does not
    have, a malformed DateTime…): the error is located at the variable's definition."""
    nodes = error.nodes or ()
    return (
        error.path is None
        and bool(nodes)
        and all(isinstance(node, VariableDefinitionNode) for node in nodes)
    )


def format_error(error: GraphQLError, *, invalid_document: bool = False) -> GraphQLError:
    """`error` with its `extensions.code`. `invalid_document`: a validation error of the document
    (about a variable, say an unused one, it is still BAD_REQUEST, not bad input)."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, ServiceUnavailable):
        return _with(error, original.detail, {**original.extensions(), "retryAfter": RETRY_AFTER_S})
    if isinstance(original, DomainError):
        return _with(error, original.detail, original.extensions())
    service = None if original is None else unreachable_service(original)
    if service is not None:  # PostgreSQL or Redis is down: not a bug, and not worth a trace
        log.warning("%s unreachable in GraphQL field %s: %r", service, error.path, original)
        return _with(
            error,
            UNAVAILABLE_DETAIL[service],
            {"code": ErrorCode.SERVICE_UNAVAILABLE.value, "retryAfter": RETRY_AFTER_S},
        )
    if isinstance(original, ValidationError):
        issues = validation_issues(original)
        first = issues[0] if issues else {"loc": [], "msg": "invalid input"}
        where = ".".join(str(p) for p in first["loc"]) or "input"
        return _with(
            error,
            f"Invalid {where}: {first['msg']}",
            {"code": ErrorCode.BAD_USER_INPUT.value, "errors": issues},
        )
    if not invalid_document and _is_variable_error(error):
        return _coded(error, ErrorCode.BAD_USER_INPUT)
    if original is None or isinstance(original, _REQUEST_ERRORS):
        return _coded(error, ErrorCode.BAD_REQUEST)
    reference = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error in GraphQL field %s [ref %s]", error.path, reference, exc_info=original
    )
    return _with(
        error,
        f"An unexpected error occurred. Reference: {reference}.",
        {"code": ErrorCode.INTERNAL.value},
    )


def _format_in_place(error: GraphQLError, *, invalid_document: bool) -> None:
    """Like `format_error`, keeping the error object: Strawberry's websocket handlers look at
    its class and original error to decide whether to close the socket."""
    formatted = format_error(error, invalid_document=invalid_document)
    if formatted is not error:
        error.message = formatted.message
        error.extensions = formatted.extensions


class ErrorCodes(SchemaExtension):
    _streamed = False
    # The validation errors of the document, by identity: graphql-core locates both a validation
    # error about a variable and a variable it cannot coerce at the variable's definition, and
    # on a subscription both come back as Strawberry's PreExecutionError.
    _invalid: frozenset[int] = frozenset()

    def on_validate(self) -> Iterator[None]:
        yield
        self._invalid = frozenset(map(id, self.execution_context.pre_execution_errors or ()))

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        for error in getattr(result, "errors", None) or ():
            _format_in_place(error, invalid_document=id(error) in self._invalid)
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        if self._streamed:  # every result was formatted before it was sent
            return
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [
                format_error(e, invalid_document=id(e) in self._invalid) for e in errors
            ]
        elif self.execution_context.pre_execution_errors:
            self.execution_context.pre_execution_errors = [
                format_error(e) for e in self.execution_context.pre_execution_errors
            ]
