"""A server span per HTTP request (OpenTelemetry's FastAPI instrumentation), when tracing is on.

Spans are named by method and route template (`POST /api/v1/agent/runs`); the per-message
`http send` / `http receive` spans are left out (an SSE stream would make one per event). The
SSE route's `?access_token=` and the token of a calendar feed path are redacted from the span's
URL attributes, as from the log.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span

from server.log_redaction import redacted_attributes


def _redact_token(span: Span, _: dict[str, Any]) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key, value in redacted_attributes(attributes).items():
        span.set_attribute(key, value)


def trace_http(app: FastAPI) -> None:
    FastAPIInstrumentor.instrument_app(
        app, server_request_hook=_redact_token, exclude_spans=["receive", "send"]
    )
