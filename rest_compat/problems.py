"""RFC 7807 problem responses for every REST error, FastAPI's own 404/405/422 included."""

from __future__ import annotations

import contextlib
import logging
from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from infra.database import (
    DEPENDENCY_ERRORS,
    RETRY_AFTER_S,
    UNAVAILABLE_DETAIL,
    unreachable_service,
)
from resolvers.errors import DomainError, RateLimited, ServiceUnavailable

log = logging.getLogger("runtime_api.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
BODY_NOT_PARSED = "There was an error parsing the body"


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ValidationIssue] | None = None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _phrase(status),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _clean_loc(loc: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_errors(raw: list[Any]) -> list[dict[str, Any]]:
    return [{"loc": _clean_loc(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in raw]


def _summary(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "The request is invalid."
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"Invalid {where}: {first['msg']}{more}"


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    if exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    errors = getattr(exc, "errors", None)
    return problem_response(request, exc.status, exc.detail, headers=headers, errors=errors)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    errors = validation_errors(raw)
    if any(e.get("type") == "json_invalid" for e in raw):  # its loc is ("body", <offset>)
        return problem_response(request, 422, "The request body is not valid JSON.", errors=errors)
    return problem_response(request, 422, _summary(errors), errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == BODY_NOT_PARSED:
        # FastAPI's answer to a body that is not even text (bad UTF-8); invalid JSON is 422
        # there, so an unreadable body is one too.
        errors = [{"loc": ["body"], "msg": "The body is not valid UTF-8 JSON."}]
        return problem_response(request, 422, "Invalid body: not valid JSON.", errors=errors)
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.url.path}."
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}."
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, detail, headers=headers)


def _unavailable_response(request: Request, service: str, exc: Exception) -> JSONResponse:
    _log_unavailable(request, service, exc)
    return problem_response(
        request, 503, UNAVAILABLE_DETAIL[service], headers={"Retry-After": str(RETRY_AFTER_S)}
    )


def _log_unavailable(connection: HTTPConnection, service: str, exc: Exception) -> None:
    log.warning(
        "%s unreachable in %s %s: %s",
        service,
        connection.scope.get("method", "WEBSOCKET"),
        connection.url.path,
        type(exc).__name__,
    )


async def _dependency_error(request: Request | WebSocket, exc: Exception) -> JSONResponse | None:
    """Errors that may mean PostgreSQL or Redis is down (503), or may be bugs (500)."""
    service = unreachable_service(exc)
    if isinstance(request, WebSocket):
        # Starlette hands websockets to the same handlers; a socket gets a close frame, not a
        # problem document: 1013 (try again later) when a service is down, 1011 otherwise.
        websocket = request
        if service is not None:
            _log_unavailable(websocket, service, exc)
        else:
            log.error("unhandled error in websocket %s", websocket.url.path, exc_info=exc)
        with contextlib.suppress(Exception):  # the socket may be gone already
            await websocket.close(code=1013 if service is not None else 1011)
        return None
    if service is not None:
        return _unavailable_response(request, service, exc)
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    service = unreachable_service(exc)
    if service is not None:  # wrapped in something we did not register (ExceptionGroup…)
        response = _unavailable_response(request, service, exc)
        response.headers["X-Request-ID"] = getattr(request.state, "request_id", "-")
        return response
    request_id = getattr(request.state, "request_id", "-")
    log.error(
        "unhandled error in %s %s [request %s]",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
        extra={"request_id": request_id},  # outside the middleware that tags the log lines
    )
    # This handler runs outside every middleware (Starlette's ServerErrorMiddleware), so the
    # request-id middleware never sees this response: add the header here.
    return problem_response(
        request,
        500,
        f"An unexpected error occurred. Reference: {request_id}.",
        headers={"X-Request-ID": request_id},
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Handled inside the middleware stack (unlike `Exception`), so a 503 keeps its request id.
    for error_class in DEPENDENCY_ERRORS:
        # (One handler for both scopes: Starlette's types name one or the other.)
        app.add_exception_handler(error_class, cast(Any, _dependency_error))
    app.add_exception_handler(Exception, _unexpected_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give."""
    return {
        status: {
            "model": Problem,
            "description": _phrase(status),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
