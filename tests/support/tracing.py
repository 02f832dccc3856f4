"""Traces in a test process: the runtime's hooks given a tracer whose spans stay in memory,
without touching the process's global tracer provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from baton_runtime import _tracing


class Spans:
    def __init__(self, exporter: InMemorySpanExporter, provider: TracerProvider) -> None:
        self._exporter = exporter
        self.tracer = provider.get_tracer("test")

    @property
    def finished(self) -> list[ReadableSpan]:
        return list(self._exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        [span] = [s for s in self.finished if s.name == name]
        return span


@contextmanager
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:
    """Tracing on for the runtime's hooks, spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    spans = Spans(exporter, provider)
    monkeypatch.setattr(_tracing, "_tracer", spans.tracer)
    try:
        yield spans
    finally:
        provider.shutdown()
