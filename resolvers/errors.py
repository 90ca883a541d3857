"""Domain errors. Each carries the class a transport maps it to: an HTTP status on REST, an
`extensions.code` on GraphQL. The same rule therefore answers the same way through both doors."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    BAD_REQUEST = "BAD_REQUEST"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL = "INTERNAL"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.BAD_USER_INPUT: 422,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class DomainError(Exception):
    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code.value}


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class BadRequest(DomainError):
    code = ErrorCode.BAD_REQUEST


class ServiceUnavailable(DomainError):
    code = ErrorCode.SERVICE_UNAVAILABLE


class PayloadTooLarge(DomainError):
    """413 / PAYLOAD_TOO_LARGE: a document over a resolver's own size cap (an iCalendar
    import), smaller than the server's request body cap."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class InvalidInput(DomainError):
    """422 / BAD_USER_INPUT, with the offending fields in the shape of RFC 7807 `errors`."""

    code = ErrorCode.BAD_USER_INPUT

    def __init__(self, detail: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(detail)
        self.errors = list(errors)

    def extensions(self) -> dict[str, Any]:
        return {**super().extensions(), "errors": self.errors}


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many requests; try again later.")
        self.retry_after = retry_after

    def extensions(self) -> dict[str, Any]:
        return {**super().extensions(), "retryAfter": self.retry_after}
