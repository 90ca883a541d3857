"""OpenTelemetry traces: the few calls the rest of the code makes, free when tracing is off.

Tracing is on in a process when the standard `OTEL_*` variables ask for an exporter
(`tracing_requested`) and the process called `setup_tracing` (`serve`'s app factory, `worker`).
Off, nothing of the OpenTelemetry SDK is imported, no tracer provider is installed, no
instrumentation patches anything, and the helpers below return before touching OpenTelemetry:
`span()` is a `nullcontext`, `job_carrier()` an empty dict.

On, `observability.tracing_setup` installs the provider, the OTLP/HTTP exporter and the DB
(asyncpg) and Redis instrumentations; the HTTP and GraphQL spans come from the transports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import AttributeValue

SpanKindName = Literal["internal", "producer", "consumer", "client", "server"]

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_tracer: Tracer | None = None


def requested_exporters(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The span exporters the environment asks for ([] = tracing off), per the OTel spec:
    `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off; `OTEL_TRACES_EXPORTER`
    names them (`otlp`, `console`); an OTLP endpoint alone means `otlp`."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [
        name.strip().lower()
        for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if name.strip()
    ]
    if "none" in names:
        return []
    if names:
        return names
    return ["otlp"] if any(environ.get(name, "").strip() for name in _ENDPOINTS) else []


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(requested_exporters(environ))


def setup_tracing(service_name: str) -> bool:
    """Install tracing in this process if the environment asks for it (idempotent). The
    `service_name` applies unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) names one."""
    global _tracer
    if _tracer is None and tracing_requested():
        from observability.tracing_setup import install

        _tracer = install(service_name, requested_exporters())
    return _tracer is not None


def tracing_enabled() -> bool:
    return _tracer is not None


def flush_tracing() -> None:
    """Export the spans still buffered: `serve --workers N` ends its worker processes without
    running their `atexit` hooks, where the SDK would otherwise flush."""
    if _tracer is not None:
        from observability.tracing_setup import flush

        flush()


def span(
    name: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    kind: SpanKindName = "internal",
) -> AbstractContextManager[Span | None]:
    """A span around a block, the current one inside it (so DB and Redis calls nest under it);
    `None` and no work at all when tracing is off."""
    if _tracer is None:
        return nullcontext()
    from opentelemetry.trace import SpanKind

    return _tracer.start_as_current_span(name, kind=SpanKind[kind.upper()], attributes=attributes)


def annotate(attributes: Mapping[str, AttributeValue]) -> None:
    """Set attributes on the current span (a result known only at the end of its block)."""
    if _tracer is None:
        return
    from opentelemetry.trace import get_current_span

    get_current_span().set_attributes(attributes)


def job_carrier() -> dict[str, str]:
    """The current trace context as W3C `traceparent` (and `tracestate`) entries, for a job
    handed to another process; empty when tracing is off."""
    if _tracer is None:
        return {}
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


@contextmanager
def continued_trace(carrier: Mapping[str, object]) -> Iterator[None]:
    """Make the trace context a job carried (`job_carrier`) the current one inside the block."""
    if _tracer is None:
        yield
        return
    from opentelemetry import context
    from opentelemetry.propagate import extract

    token = context.attach(extract({key: str(value) for key, value in carrier.items()}))
    try:
        yield
    finally:
        context.detach(token)


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, for log lines; None when there is none."""
    if _tracer is None:
        return None
    from opentelemetry.trace import get_current_span

    context = get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
