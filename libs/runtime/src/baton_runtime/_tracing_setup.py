"""Setting up OpenTelemetry's SDK, its exporter and the instrumentations: imported only when
tracing is on (:func:`baton_runtime._tracing.configure_tracing`), so a service without an
OTLP endpoint never loads any of it."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

UNTRACED_URLS = ",".join(
    (
        r"/health(/|$|\?)",
        r"/metrics($|\?)",
        r"/stream($|\?)",  # an event stream: one span as long as it is open
        r"/console(/|$|\?)",
        r"/docs(/|$|\?)",
        r"/openapi\.json",
    )
)
"""Requests that are no trace: probes, scrapes, static pages, the live streams (the console's,
a thread's)."""


class InsideTraces(Sampler):
    """The SDK's sampler (``OTEL_TRACES_SAMPLER``), except that a client call outside any
    trace is no trace of its own: the MongoDB commands of background loops (sweeps, gauge
    refreshes) and of health checks would otherwise each be a one-span trace."""

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
        if kind is SpanKind.CLIENT and not (
            trace.get_current_span(parent_context).get_span_context().is_valid
        ):
            return SamplingResult(Decision.DROP)
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"InsideTraces{{{self._inner.get_description()}}}"


def resource(service: str) -> Resource:
    """The SDK's resource from the environment (``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_SERVICE_NAME``), named ``service`` unless the environment names it."""
    detected = Resource.create()
    named = str(detected.attributes.get(SERVICE_NAME, ""))
    if named and not named.startswith("unknown_service"):
        return detected
    return detected.merge(Resource({SERVICE_NAME: service}))


def start_sdk(service: str) -> TracerProvider:
    """The process's tracer provider, exporting in batches over OTLP/HTTP (protobuf) to
    where ``OTEL_EXPORTER_OTLP_*`` say, with MongoDB commands traced."""
    provider = TracerProvider(resource=resource(service))
    # The sampler the SDK read from OTEL_TRACES_SAMPLER, wrapped before any tracer exists.
    provider.sampler = InsideTraces(provider.sampler)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    PymongoInstrumentor().instrument(tracer_provider=provider)
    return provider


def instrument_app(app: FastAPI) -> None:
    """Server spans for ``app``'s requests, without the per-message ``http send`` and
    ``http receive`` spans, and with no query string recorded."""
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
        server_request_hook=_path_only,
    )


def _path_only(span: Span, scope: dict[str, Any]) -> None:
    """Drop the query string from the request's span: it may carry a credential (a stream
    ticket) and query strings are free text (the access log drops them too)."""
    if not span.is_recording() or not scope.get("query_string"):
        return
    attributes = getattr(span, "attributes", None) or {}
    path = scope.get("path", "")
    if "http.target" in attributes:
        span.set_attribute("http.target", path)
    for key in ("http.url", "url.full"):
        url = attributes.get(key)
        if isinstance(url, str):
            span.set_attribute(key, urllib.parse.urlsplit(url)._replace(query="").geturl())
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def kafka_middleware() -> Any:
    """FastStream's middleware that puts the trace context in each published record's
    headers, with a producer span per publish."""
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return KafkaTelemetryMiddleware(include_messages_counters=False)
