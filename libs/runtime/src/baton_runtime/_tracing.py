"""Traces across every hop (OpenTelemetry), on only when an OTLP endpoint is configured.

Off (the default) nothing is set up: no tracer provider, no instrumentation, no header read
or written, and each hook below costs one check of a flag. :func:`configure_tracing` turns
tracing on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (:mod:`._tracing_setup` does the
work, the only code that imports the SDK); then

* an HTTP request is a server span (FastAPI's instrumentation), health and metrics aside;
* a publish carries the W3C ``traceparent`` (and ``tracestate``) in the record's headers
  (FastStream's middleware on the broker);
* a consumed record is handled in a consumer span, the child of the context its headers
  carry (:func:`consumer_span`);
* a model call is a client span with the model and its token usage (:func:`model_call`);
* a MongoDB command inside a trace is a client span (PyMongo's instrumentation);
* an outbox entry and a ticket keep the trace context of the change that stored them
  (:func:`current_carrier`), so that a sweep's relay (:func:`relaying`) continues that trace
  and a person's reply links to it (:func:`link_to`).

Spans carry ids (thread, event, message, ticket), never what a customer, an agent or the
model wrote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from ._logging import add_trace_ids
from ._records import Record
from ._settings import TracingSettings

if TYPE_CHECKING:
    from baton_contracts import Event

Carrier = dict[str, str]
"""A trace context in its W3C header form: ``traceparent`` and, when there is one,
``tracestate``."""

TRACER_NAME = "baton_runtime"
KAFKA = "kafka"
_OFF: contextlib.nullcontext[None] = contextlib.nullcontext()
_tracer: trace.Tracer | None = None


def tracing_on() -> bool:
    """Whether this process records traces (:func:`configure_tracing` found an endpoint)."""
    return _tracer is not None


def configure_tracing(service: str, settings: TracingSettings | None = None) -> bool:
    """Turn tracing on for this process when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; ``service`` is the service name unless
    ``OTEL_SERVICE_NAME`` says otherwise. Call it before the broker, the MongoDB client and
    the app are made. Once on it stays on (the tracer provider is the process's); returns
    whether tracing is on."""
    global _tracer
    if _tracer is not None:
        return True
    settings = settings or TracingSettings()
    if not settings.enabled:
        return False
    from ._tracing_setup import start_sdk

    _tracer = start_sdk(service).get_tracer(TRACER_NAME)
    add_trace_ids(_trace_ids)
    return True


def _trace_ids() -> Mapping[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


# ---------------------------------------------------------------- consuming


Headers = tuple[tuple[str, bytes], ...]


class _RecordHeaders(Getter[Headers]):
    """Reads trace headers from a record's ``(name, bytes)`` pairs."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        found = [value.decode("latin-1") for name, value in carrier if name == key and value]
        return found or None

    def keys(self, carrier: Headers) -> list[str]:
        return [name for name, _ in carrier]


_HEADERS = _RecordHeaders()


@contextlib.contextmanager
def consumer_span(record: Record, *, group: str | None = None) -> Iterator[Span]:
    """The span a record is handled in, with messaging attributes (system, destination,
    partition, offset, consumer group), the child of the context the record's headers carry
    (a new trace without one). Use only when :func:`tracing_on`."""
    assert _tracer is not None
    parent = propagate.extract(record.headers, getter=_HEADERS)
    attributes: dict[str, Any] = {
        "messaging.system": KAFKA,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
    }
    if group is not None:
        attributes["messaging.consumer.group.name"] = group
    with _tracer.start_as_current_span(
        f"process {record.topic}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def describe_event(event: Event) -> None:
    """Name the event being handled on the current span: its type, id, thread and
    conversation (ids only)."""
    if _tracer is None:
        return
    span = trace.get_current_span()
    span.set_attributes(
        {
            "messaging.message.id": str(event.event_id),
            "messaging.message.conversation_id": str(event.correlation_id),
            "baton.event.type": event.type,
            "baton.thread_id": event.thread_id,
        }
    )


# ---------------------------------------------------------------- model calls


class ModelCall:
    """What a model call's span learns from the answer."""

    __slots__ = ("_span",)

    def __init__(self, span: Span | None) -> None:
        self._span = span

    def answered(
        self,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
        response_id: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """The model that answered and the tokens the call used."""
        span = self._span
        if span is None:
            return
        span.set_attributes(
            {
                "gen_ai.response.model": model,
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": output_tokens,
            }
        )
        if response_id:
            span.set_attribute("gen_ai.response.id", response_id)
        if finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])


_NO_CALL = ModelCall(None)
_NO_CALL_CONTEXT = contextlib.nullcontext(_NO_CALL)


def model_call(
    *,
    model: str,
    caller: str,
    provider: str = "openai",
    operation: str = "chat",
) -> contextlib.AbstractContextManager[ModelCall]:
    """A client span around one call to a model (one attempt), after the GenAI semantic
    conventions: ``gen_ai.operation.name``, ``gen_ai.provider.name``,
    ``gen_ai.request.model``, then (:meth:`ModelCall.answered`) the response's model and
    ``gen_ai.usage.input_tokens``/``output_tokens``; a failure is the span's error, with
    ``error.type``. ``caller`` (``responder``, ``classifier``) says which part of Baton
    asked. Prompts and answers are never recorded."""
    if _tracer is None:
        return _NO_CALL_CONTEXT
    return _model_span(_tracer, model=model, caller=caller, provider=provider, operation=operation)


@contextlib.contextmanager
def _model_span(
    tracer: trace.Tracer, *, model: str, caller: str, provider: str, operation: str
) -> Iterator[ModelCall]:
    attributes = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "baton.llm.caller": caller,
    }
    with tracer.start_as_current_span(
        f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        try:
            yield ModelCall(span)
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            raise


# ---------------------------------------------------------------- stored contexts


def current_carrier() -> Carrier | None:
    """The current trace context in its W3C header form, to store with a change; None when
    tracing is off or there is no trace."""
    if _tracer is None:
        return None
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    carrier: Carrier = {}
    propagate.inject(carrier)
    return {key: carrier[key] for key in ("traceparent", "tracestate") if key in carrier} or None


def _span_context(carrier: Mapping[str, str]) -> trace.SpanContext | None:
    extracted = propagate.extract(dict(carrier))
    span_context = trace.get_current_span(extracted).get_span_context()
    return span_context if span_context.is_valid else None


def relaying(
    carriers: Sequence[Mapping[str, str] | None], *, name: str
) -> contextlib.AbstractContextManager[object]:
    """A span for carrying out stored follow-ups after the fact (the outbox sweep), in the
    trace of the change that stored them: the child of the first stored context, linked to
    the others. Without tracing, or without a stored context, nothing."""
    if _tracer is None:
        return _OFF
    contexts = []
    for carrier in carriers:
        span_context = _span_context(carrier) if carrier else None
        if span_context is not None and span_context not in contexts:
            contexts.append(span_context)
    if not contexts:
        return _OFF
    parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0]))
    return _tracer.start_as_current_span(
        name,
        context=parent,
        kind=SpanKind.INTERNAL,
        links=[Link(other) for other in contexts[1:]],
        attributes={"baton.relay": True},
    )


def link_to(carrier: Mapping[str, str] | None, **attributes: str) -> None:
    """Link the current span (a person's request) to a stored trace context (the handler
    that opened the ticket): the request joins that conversation's trace as a link, not as
    a child, since it is a new cause of its own."""
    if _tracer is None or not carrier:
        return
    span_context = _span_context(carrier)
    span = trace.get_current_span()
    if span_context is not None and span.is_recording():
        span.add_link(span_context, attributes=attributes or None)


def mark_failed(span: Span, reason: str) -> None:
    """An error status on ``span`` (a record that was dead-lettered)."""
    span.set_status(Status(StatusCode.ERROR, reason))
