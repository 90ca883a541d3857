"""A server span per HTTP request (OpenTelemetry's FastAPI instrumentation), when tracing is on.

Spans are named by method and route template (`POST /api/v1/agent/runs`); the per-message
`http send` / `http receive` spans are left out (an SSE stream would make one per event). The
SSE route's `?access_token=` is redacted from the span's URL attributes, as from the log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span

from server.log_redaction import TOKEN_PARAMETER, redact_query

_QUERY_ONLY = ("url.query",)  # new semantic conventions: the query without its "?"


def _redact_token(span: Span, _: dict[str, Any]) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key, value in list(attributes.items()):
        if not isinstance(value, str) or TOKEN_PARAMETER not in unquote_plus(value):
            continue
        if key in _QUERY_ONLY:
            span.set_attribute(key, redact_query(f"?{value}")[1:])
        elif "?" in value:
            span.set_attribute(key, redact_query(value))


def trace_http(app: FastAPI) -> None:
    FastAPIInstrumentor.instrument_app(
        app, server_request_hook=_redact_token, exclude_spans=["receive", "send"]
    )
