"""Every GraphQL error leaves with an `extensions.code` (CONTRACT §2).

Domain errors keep their message and code; pydantic validation becomes BAD_USER_INPUT; errors
raised by graphql-core before execution (syntax, validation, the depth/token/alias caps) are
BAD_REQUEST; anything else is masked as INTERNAL and logged with the request id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from pydantic import ValidationError
from strawberry.extensions import SchemaExtension

from resolvers.errors import DomainError, ErrorCode

log = logging.getLogger("runtime_api.errors")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def validation_issues(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [_camel(p) if isinstance(p, str) else p for p in e["loc"]], "msg": e["msg"]}
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


def format_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, DomainError):
        return _with(error, original.detail, original.extensions())
    if isinstance(original, ValidationError):
        issues = validation_issues(original)
        first = issues[0] if issues else {"loc": [], "msg": "invalid input"}
        where = ".".join(str(p) for p in first["loc"]) or "input"
        return _with(
            error,
            f"Invalid {where}: {first['msg']}",
            {"code": ErrorCode.BAD_USER_INPUT.value, "errors": issues},
        )
    if original is None:
        if (error.extensions or {}).get("code"):
            return error
        return _with(error, error.message, {"code": ErrorCode.BAD_REQUEST.value})
    reference = uuid.uuid4().hex[:12]
    log.error(
        "unhandled error in GraphQL field %s [ref %s]", error.path, reference, exc_info=original
    )
    return _with(
        error,
        f"An unexpected error occurred. Reference: {reference}.",
        {"code": ErrorCode.INTERNAL.value},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [format_error(e) for e in errors]
        elif self.execution_context.pre_execution_errors:
            self.execution_context.pre_execution_errors = [
                format_error(e) for e in self.execution_context.pre_execution_errors
            ]
