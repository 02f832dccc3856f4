"""Logging every service shares: JSON lines carrying the service and the log context,
the text format's context suffix, and the event runner naming the event it handles."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator, Sequence

import pytest

from baton_contracts import Event, MessageReceived, RouteDecided
from baton_runtime import (
    EventRunner,
    JsonFormatter,
    Record,
    Subscription,
    configure_logging,
    context_filter,
    log_context,
)
from baton_runtime import _logging as baton_logging
from tests.support.memory import MemoryDeadLetters, MemoryPublisher


class Lines(logging.Handler):
    """Every record logged at INFO or above, formatted as the JSON the containers write."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.addFilter(context_filter())
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_json_line_has_time_level_logger_message_and_the_context(lines: Lines) -> None:
    log = logging.getLogger("baton.test")
    with log_context(thread_id="t-1", skipped=None):
        with log_context(event_type="message.received"):
            log.warning("stored %d message(s)", 2)
        log.info("after the inner block")
    log.info("outside")
    inner, after, outside = lines.lines
    assert inner["level"] == "WARNING"
    assert inner["logger"] == "baton.test"
    assert inner["message"] == "stored 2 message(s)"
    assert (inner["thread_id"], inner["event_type"]) == ("t-1", "message.received")
    assert "skipped" not in inner
    assert str(inner["time"]).endswith("+00:00")
    assert after["thread_id"] == "t-1"
    assert "event_type" not in after
    assert "thread_id" not in outside
    assert all("service" in line for line in lines.lines)


def test_an_exception_is_one_line_with_its_traceback(lines: Lines) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("baton.test").exception("failed")
    [line] = lines.lines
    assert "ValueError: boom" in str(line["exception"])


async def test_the_context_follows_into_tasks_started_inside_it(lines: Lines) -> None:
    async def work() -> None:
        logging.getLogger("baton.test").info("in a task")

    with log_context(thread_id="t-2"):
        task = asyncio.create_task(work())
    await task
    assert lines.lines[0]["thread_id"] == "t-2"


def test_the_format_comes_from_the_environment_and_a_wrong_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # configure_logging names the process's service: monkeypatch puts the default back.
    monkeypatch.setattr(baton_logging, "_service", "baton")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        monkeypatch.setenv("LOG_FORMAT", "json")
        configure_logging("baton-test")
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        monkeypatch.setenv("LOG_FORMAT", "yaml")
        with pytest.raises(ValueError, match="LOG_FORMAT"):
            configure_logging("baton-test")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


async def test_what_a_handler_logs_names_the_event_its_thread_and_conversation(
    lines: Lines,
) -> None:
    received = MessageReceived.first(thread_id="t-3", message_id=uuid.uuid4(), text="secret words")

    async def handler(event: MessageReceived) -> Sequence[Event]:
        logging.getLogger("baton.handler").info("routing")
        return ()

    runner = EventRunner(publisher=MemoryPublisher(), dead_letters=MemoryDeadLetters())
    record = Record(
        topic="message.received",
        partition=0,
        offset=1,
        key=received.kafka_key(),
        value=received.model_dump_json().encode(),
    )
    await runner.run(record, Subscription("message.received", MessageReceived, handler))
    [line] = [line for line in lines.lines if line["logger"] == "baton.handler"]
    assert line["thread_id"] == "t-3"
    assert line["event_type"] == "message.received"
    assert line["event_id"] == str(received.event_id)
    assert line["correlation_id"] == str(received.correlation_id)
    assert line["topic"] == "message.received"


async def test_a_dead_letter_is_logged_with_its_reason_but_never_the_payload(
    lines: Lines,
) -> None:
    bad = b'{"type": "route.decided", "text": "my card number is 4111"}'
    runner = EventRunner(publisher=MemoryPublisher(), dead_letters=MemoryDeadLetters())
    record = Record(topic="route.decided", partition=0, offset=2, key=b"t-4", value=bad)

    async def handler(event: RouteDecided) -> Sequence[Event]:
        return ()

    assert await runner.run(record, Subscription("route.decided", RouteDecided, handler)) == (
        "dead_lettered"
    )
    assert lines.lines
    assert all("4111" not in json.dumps(line) for line in lines.lines)
    assert any(line["topic"] == "route.decided" for line in lines.lines)


def test_access_lines_keep_the_path_and_drop_the_query_string(
    monkeypatch: pytest.MonkeyPatch, lines: Lines
) -> None:
    monkeypatch.setattr(baton_logging, "_service", "baton")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    access = logging.getLogger("uvicorn.access")
    filters = list(access.filters)
    try:
        configure_logging("baton-test")
        root.addHandler(lines)
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/v1/agents/me/stream?ticket=bqs_secret",
            "1.1",
            200,
        )
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        access.filters = filters
    [line] = [line for line in lines.lines if line["logger"] == "uvicorn.access"]
    assert line["message"] == '127.0.0.1:5000 - "GET /v1/agents/me/stream HTTP/1.1" 200'
