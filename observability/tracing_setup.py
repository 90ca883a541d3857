"""The OpenTelemetry SDK of a process that traces: provider, exporters, sampler, DB and Redis
instrumentations. Imported only when `observability.tracing.setup_tracing` turns tracing on.

The exporter, its endpoint, headers, timeouts and batching, and the sampler read the standard
variables themselves (`OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER*`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, SpanKind, Tracer, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

log = logging.getLogger(__name__)

_provider: TracerProvider | None = None


class NoBackgroundCalls(Sampler):
    """Drops a DB or Redis call that starts a trace of its own: outside any request or run it is
    background polling (the queue's blocking reads, the reaper, stream listeners), which would
    send a trace a second per process and bury the ones an operator looks for. Every other span
    is left to `inner`, the sampler OTEL_TRACES_SAMPLER names (default parentbased_always_on)."""

    def __init__(self, inner: Sampler) -> None:
        self._inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        orphan = not get_current_span(parent_context).get_span_context().is_valid
        if kind is SpanKind.CLIENT and orphan:
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoBackgroundCalls{{{self._inner.get_description()}}}"


def _exporter(name: str) -> SpanExporter | None:
    if name == "otlp":
        protocol = os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
        )
        if protocol not in ("", "http/protobuf"):
            log.warning("OTLP protocol %r is not supported; exporting over http/protobuf", protocol)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    log.warning("unknown OTEL_TRACES_EXPORTER %r: ignored", name)
    return None


def install(service_name: str, exporters: Sequence[str]) -> Tracer:
    global _provider
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    # The SDK's own reading of OTEL_TRACES_SAMPLER[_ARG] (private, but the version is pinned).
    sampler = NoBackgroundCalls(_get_from_env_or_default())
    provider = TracerProvider(resource=resource, sampler=sampler)
    processors: list[SpanProcessor] = [
        BatchSpanProcessor(exporter)
        for exporter in map(_exporter, exporters)
        if exporter is not None
    ]
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    # Statements are recorded without their parameters, Redis commands without their arguments
    # (both instrumentations' defaults): no secret reaches a span.
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider.get_tracer("runtime_api")


def flush() -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)
