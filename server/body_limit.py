"""A cap on the size of request bodies (REST and GraphQL over HTTP): 413 problem+json.

A declared `Content-Length` over the cap is refused before a byte of the body is read. A body
without one (chunked transfer encoding) is counted as it streams in: the moment it passes the
cap, reading stops, and whatever the application was about to answer is replaced by the 413.
Websocket messages are capped by the ASGI server instead (uvicorn's `ws_max_size`).
"""

from __future__ import annotations

import contextlib
import json
from http import HTTPStatus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_MEDIA_TYPE = b"application/problem+json"


class BodyTooLarge(Exception):
    """Raised to the application by `receive` once the body passed the cap."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the ASGI server refuses a malformed length itself
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the application's answer to a cut-off body: the 413 replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        body = json.dumps(
            {
                "type": "about:blank",
                "title": status.phrase,
                "status": int(status),
                "detail": f"The request body is larger than {self.max_bytes} bytes.",
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": int(status),
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is never read: the connection cannot be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
