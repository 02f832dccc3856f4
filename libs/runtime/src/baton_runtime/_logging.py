"""Logging every service shares: plain text for people at a terminal, or one JSON object a
line (``LOG_FORMAT=json``, the containers' default) for a log pipeline.

Each line carries the service and whatever the code around it put in the log context: the
event being handled (``event_type``, ``thread_id``, ``correlation_id``, ``event_id``,
``topic``) or the HTTP request (``http_method``, ``http_route``), and the trace and span
ids when a trace is being recorded. Nothing a customer or an agent wrote, and no secret,
is logged at INFO or above: log ids, not contents.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType

_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar(
    "baton_log_context", default=MappingProxyType({})
)
_service = "baton"
_TRACE_IDS: list[Callable[[], Mapping[str, str]]] = []
"""Sources of the current trace and span ids (the tracing set-up adds one when it runs)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"
QUIET_LOGGERS = ("aiokafka",)
"""Kafka client chatter at INFO drowns the service's own lines."""


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add ``fields`` (None ones left out) to every line logged inside the block, in this
    task and the tasks it starts."""
    added = {k: str(v) for k, v in fields.items() if v is not None}
    token = _CONTEXT.set({**_CONTEXT.get(), **added})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def add_trace_ids(source: Callable[[], Mapping[str, str]]) -> None:
    """Register a source of ``trace_id`` and ``span_id`` for the current span."""
    _TRACE_IDS.append(source)


def current_context() -> dict[str, str]:
    fields = {"service": _service, **_CONTEXT.get()}
    for source in _TRACE_IDS:
        fields.update(source())
    return fields


class _ContextFilter(logging.Filter):
    """Puts the log context on each record: ``record.baton`` for JSON, and a short
    ``[k=v ...]`` suffix for text."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_context()
        record.baton = fields
        shown = {k: v for k, v in fields.items() if k != "service"}
        record.context = (
            (" [" + " ".join(f"{k}={v}" for k, v in shown.items()) + "]") if shown else ""
        )
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the context,
    and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(getattr(record, "baton", None) or current_context()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _PathOnly(logging.Filter):
    """Drops the query string from uvicorn's access lines: a URL may carry a credential
    (the live stream's single-use ticket) and query strings are free text."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def configure_logging(service: str = "baton", level: str = "INFO", fmt: str | None = None) -> None:
    """Log to stderr at ``LOG_LEVEL`` (else ``level``) in ``LOG_FORMAT`` (else ``fmt``,
    else text), every line naming ``service``."""
    global _service
    _service = service
    chosen = (fmt or os.environ.get("LOG_FORMAT") or "text").lower()
    if chosen not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, not {chosen!r}")
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(os.environ.get("LOG_LEVEL", level).upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _PathOnly) for f in access.filters):
        access.addFilter(_PathOnly())


def context_filter() -> logging.Filter:
    """The filter that adds the log context to records (for handlers made elsewhere)."""
    return _ContextFilter()
