"""Traces: nothing at all without an OTLP endpoint; with one, each record handled in a
consumer span in the trace its headers carry, model calls with their usage, stored trace
contexts that a relay continues and a person's request links to, and log lines that name
the trace."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.http import parse_excluded_urls

from baton_contracts import Event, RouteDecided
from baton_runtime import (
    Entry,
    EventRunner,
    JsonFormatter,
    Record,
    RetryPolicy,
    Subscription,
    TracingSettings,
    _logging,
    _tracing,
    current_carrier,
    link_to,
    model_call,
    publishing,
    tracing_on,
)
from baton_runtime._tracing_setup import UNTRACED_URLS, InsideTraces, _path_only, resource
from tests.support.memory import MemoryDeadLetters, MemoryPublisher
from tests.support.tracing import recording
from tests.unit.runtime.test_runner import record_of, route

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"

PROBE = """
import sys
from baton_runtime import (
    KafkaSettings, MongoSettings, build_broker, configure_tracing, connect_mongo, database,
    service_app,
)
from opentelemetry import trace
on = configure_tracing("baton-probe")
broker = build_broker(KafkaSettings(), client_id="probe")
mongo = connect_mongo(MongoSettings(), app_name="probe")
app = service_app(
    title="probe", broker=broker, mongo=mongo, db=database(mongo, MongoSettings()),
    kafka=KafkaSettings(), topics=(),
)
loaded = sorted(
    m for m in sys.modules
    if m.startswith(("opentelemetry.sdk", "opentelemetry.instrumentation",
                     "faststream.opentelemetry", "opentelemetry.exporter"))
)
print(on, type(trace.get_tracer_provider()).__name__, bool(loaded),
      [type(m).__name__ for m in broker.middlewares],
      bool(getattr(app, "_is_instrumented_by_opentelemetry", False)))
"""


def probe(**env: str) -> str:
    """What a fresh process sets up, given ``env`` (and no other OTEL_ variable)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(  # noqa: S603 - our own probe
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_without_an_endpoint_nothing_is_set_up() -> None:
    assert probe() == "False ProxyTracerProvider False ['KafkaPrometheusMiddleware'] False"


def test_an_endpoint_turns_on_the_provider_the_middleware_and_the_instrumentation() -> None:
    assert probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9") == (
        "True TracerProvider True ['KafkaPrometheusMiddleware', 'KafkaTelemetryMiddleware'] True"
    )


def test_an_endpoint_can_be_switched_off() -> None:
    assert TracingSettings(exporter_otlp_endpoint="http://jaeger:4318").enabled
    assert TracingSettings(exporter_otlp_traces_endpoint="http://c:4318/v1/traces").enabled
    assert not TracingSettings(exporter_otlp_endpoint="http://j:4318", sdk_disabled=True).enabled


def test_off_the_hooks_do_nothing() -> None:
    assert not tracing_on()
    assert current_carrier() is None
    assert "trace" not in publishing(route("ai")).to_document()
    with model_call(model="m", caller="test") as call:
        call.answered(model="m", input_tokens=1, output_tokens=2)
    link_to({"traceparent": TRACEPARENT})


def runner() -> EventRunner:
    return EventRunner(
        publisher=MemoryPublisher(),
        dead_letters=MemoryDeadLetters(),
        policy=RetryPolicy(max_attempts=1, initial_backoff=0.001),
        service="test",
    )


def with_headers(record: Record, *headers: tuple[str, bytes]) -> Record:
    return Record(record.topic, record.partition, record.offset, record.key, record.value, headers)


async def test_a_record_is_handled_in_a_consumer_span_of_the_trace_its_headers_carry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = route("ai", thread_id="thread-9")
    seen: list[trace.SpanContext] = []

    async def handler(routed: RouteDecided) -> Sequence[Event]:
        seen.append(trace.get_current_span().get_span_context())
        return ()

    record = with_headers(
        record_of(event, offset=41),
        ("event-type", b"route.decided"),
        ("traceparent", TRACEPARENT.encode()),
    )
    subscription = Subscription("route.decided", RouteDecided, handler, group="ns.baton-test")
    with recording(monkeypatch) as spans:
        assert await runner().run(record, subscription) == "handled"
    span = spans.named("process route.decided")
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None
    assert (f"{span.context.trace_id:032x}", f"{span.parent.span_id:016x}") == (
        PARENT_TRACE,
        PARENT_SPAN,
    )
    assert seen == [span.context], "the handler runs inside the span"
    assert dict(span.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "route.decided",
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": 41,
        "messaging.consumer.group.name": "ns.baton-test",
        "messaging.message.id": str(event.event_id),
        "messaging.message.conversation_id": str(event.correlation_id),
        "baton.event.type": "route.decided",
        "baton.thread_id": "thread-9",
        "baton.outcome": "handled",
    }


async def test_a_record_without_a_trace_starts_one_and_a_dead_letter_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def handler(routed: RouteDecided) -> Sequence[Event]:
        raise ValueError("boom")

    with recording(monkeypatch) as spans:
        outcome = await runner().run(
            record_of(route("ai")), Subscription("route.decided", RouteDecided, handler)
        )
    assert outcome == "dead_lettered"
    span = spans.named("process route.decided")
    assert span.parent is None
    assert span.status.status_code is StatusCode.ERROR
    assert "messaging.consumer.group.name" not in (span.attributes or {})


async def test_a_model_call_is_a_client_span_with_the_model_and_the_usage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with recording(monkeypatch) as spans:
        with model_call(model="gpt-x", caller="responder") as call:
            call.answered(model="gpt-x-2025", input_tokens=120, output_tokens=30, response_id="r1")
        with pytest.raises(TimeoutError), model_call(model="gpt-x", caller="classifier"):
            raise TimeoutError
    ok, failed = spans.finished
    assert (ok.name, ok.kind) == ("chat gpt-x", SpanKind.CLIENT)
    assert dict(ok.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-x",
        "baton.llm.caller": "responder",
        "gen_ai.response.model": "gpt-x-2025",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.response.id": "r1",
    }
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "TimeoutError"


def test_an_outbox_entry_keeps_the_trace_of_the_change_that_stored_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = publishing(route("ai"))
    with recording(monkeypatch) as spans:
        with spans.tracer.start_as_current_span("change"):
            stored = entry.to_document()
        outside = entry.to_document()
    change = spans.named("change")
    assert stored["trace"]["traceparent"].startswith(
        f"00-{change.context.trace_id:032x}-{change.context.span_id:016x}-"
    )
    assert "trace" not in outside
    read = Entry.from_document(stored)
    assert read.trace == stored["trace"]
    assert read.to_document() == stored, "an entry read back keeps its own trace"


def test_a_relay_continues_the_stored_trace_and_links_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    with recording(monkeypatch) as spans:
        with _tracing.relaying(
            [None, {"traceparent": TRACEPARENT}, {"traceparent": other}], name="relay"
        ):
            pass
        with _tracing.relaying([None], name="nothing stored"):
            assert not trace.get_current_span().get_span_context().is_valid
    relay = spans.named("relay")
    assert relay.parent is not None
    assert f"{relay.context.trace_id:032x}" == PARENT_TRACE
    assert [f"{link.context.trace_id:032x}" for link in relay.links] == ["1" * 32]
    assert [s.name for s in spans.finished] == ["relay"]


def test_a_request_links_to_a_stored_context(monkeypatch: pytest.MonkeyPatch) -> None:
    with recording(monkeypatch) as spans, spans.tracer.start_as_current_span("reply"):
        link_to({"traceparent": TRACEPARENT})
        link_to(None)
    [link] = spans.named("reply").links
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == (
        PARENT_TRACE,
        PARENT_SPAN,
    )


def test_log_lines_name_the_trace_and_the_span(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_logging, "_TRACE_IDS", [_tracing._trace_ids])
    formatter = JsonFormatter()
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "handled", None, None)
    assert "trace_id" not in json.loads(formatter.format(record))
    with recording(monkeypatch) as spans, spans.tracer.start_as_current_span("work"):
        line = json.loads(formatter.format(record))
    work = spans.named("work")
    assert (line["trace_id"], line["span_id"]) == (
        f"{work.context.trace_id:032x}",
        f"{work.context.span_id:016x}",
    )


def test_a_client_call_outside_any_trace_is_not_a_trace_of_its_own() -> None:
    sampler = InsideTraces(ALWAYS_ON)
    provider = TracerProvider(sampler=sampler)
    tracer = provider.get_tracer("test")
    lone = tracer.start_span("find", kind=SpanKind.CLIENT)
    assert not lone.is_recording()
    with tracer.start_as_current_span("handler", kind=SpanKind.CONSUMER) as handler:
        assert handler.is_recording()
        inside = tracer.start_span("find", kind=SpanKind.CLIENT)
        assert inside.is_recording()
    assert tracer.start_span("publish", kind=SpanKind.PRODUCER).is_recording()
    assert sampler.should_sample(None, 1, "x", SpanKind.CLIENT).decision is Decision.DROP


def test_the_service_names_itself_unless_the_environment_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
    named = resource("baton-router").attributes
    assert (named["service.name"], named["deployment.environment.name"]) == (
        "baton-router",
        "staging",
    )
    monkeypatch.setenv("OTEL_SERVICE_NAME", "router-eu")
    assert resource("baton-router").attributes["service.name"] == "router-eu"


def test_a_stored_context_is_ids_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with recording(monkeypatch) as spans, spans.tracer.start_as_current_span("x"):
        carrier = current_carrier()
    assert carrier is not None
    assert set(carrier) == {"traceparent"}


def test_probes_scrapes_and_streams_are_no_traces() -> None:
    untraced = parse_excluded_urls(UNTRACED_URLS)
    for url in (
        "/health/ready",
        "/health/live",
        "/health",
        "/metrics",
        "/v1/agents/me/stream?ticket=s3cret",
        "/v1/threads/t1/stream",
        "/console/app.js",
        "/docs",
    ):
        assert untraced.url_disabled(f"http://127.0.0.1:8004{url}"), url
    for url in (
        "/v1/threads/t1/messages",
        "/v1/agents/me/stream-ticket",
        "/v1/tickets/k1/reply",
        "/v1/healthy-looking",
    ):
        assert not untraced.url_disabled(f"http://127.0.0.1:8004{url}"), url


def test_a_request_span_keeps_the_path_not_the_query_string() -> None:
    tracer = TracerProvider().get_tracer("test")
    span = tracer.start_span(
        "GET /v1/agents/me/stream",
        attributes={
            "http.target": "/v1/things?text=hello",
            "http.url": "http://h:8004/v1/things?text=hello",
        },
    )
    _path_only(span, {"path": "/v1/things", "query_string": b"text=hello"})
    span.end()
    attributes = dict(span.attributes or {})  # type: ignore[attr-defined]
    assert attributes == {"http.target": "/v1/things", "http.url": "http://h:8004/v1/things"}
