"""Traces across every hop, with the services as real processes exporting to an OTLP
receiver the test runs: a user message is one trace from ingest's request to the AI's
``message.sent``, each Kafka hop the child of the publish before it, with the model call and
the MongoDB commands inside; a person's reply is a trace of its own that links to the trace
of the handler that opened the ticket.

The services run on the session's Kafka and MongoDB, in a namespace of their own.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from baton_runtime import Document
from baton_testkit import LocalStack, System, new_namespace
from tests.support.infra import Endpoints
from tests.support.otlp import Receiver, Span, receiving
from tests.support.queue import AgentClient, new_agent, reply_rule, token

pytestmark = pytest.mark.timeout(300)


@dataclass
class Traced:
    system: System
    receiver: Receiver
    namespace: str
    ingest: httpx.AsyncClient
    queue: httpx.AsyncClient
    model: httpx.AsyncClient

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"


@pytest.fixture(scope="module")
async def traced(
    infra: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Traced]:
    namespace = new_namespace("o")
    logs = tmp_path_factory.mktemp("traced-logs")
    async with receiving() as receiver:
        # The session's Kafka and MongoDB, through the overrides; this stack is never started.
        unused = LocalStack(Path(logs), 0, 0, 0)
        system = System(
            unused,
            namespace,
            logs=logs,
            overrides={
                "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
                "MONGODB_URL": infra.mongodb_url,
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            },
        )
        try:
            await system.start_all()
            async with (
                httpx.AsyncClient(
                    base_url=system.programs["ingest"].url,
                    headers=system.ingest_headers,
                    timeout=10,
                ) as ingest,
                httpx.AsyncClient(base_url=system.programs["human-queue"].url, timeout=10) as queue,
                httpx.AsyncClient(
                    base_url=system.programs["scripted-model"].url, timeout=10
                ) as model,
            ):
                yield Traced(system, receiver, namespace, ingest, queue, model)
        finally:
            await system.stop_all()
            client: AsyncMongoClient[Document] = AsyncMongoClient(infra.mongodb_url)
            await client.drop_database(namespace)
            await client.close()


def traceparent() -> tuple[str, str, str]:
    """A gateway's own trace context: its trace id, its span id, and the header."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


async def say(traced: Traced, text: str) -> tuple[str, str, str]:
    """A new thread with ``text`` sent in it by a gateway that traces: the thread, the
    trace id and the gateway's span id."""
    created = await traced.ingest.post(
        "/v1/threads", json={"user_id": f"user-{uuid.uuid4().hex[:8]}", "channel": "web"}
    )
    assert created.status_code == 201, created.text
    thread_id: str = created.json()["thread_id"]
    trace_id, span_id, header = traceparent()
    sent = await traced.ingest.post(
        f"/v1/threads/{thread_id}/messages", json={"text": text}, headers={"traceparent": header}
    )
    assert sent.status_code == 202, sent.text
    return thread_id, trace_id, span_id


class Trace:
    """The spans of one trace, with the questions the tests ask of them."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans
        self.by_id = {span.span_id: span for span in spans}

    def one(self, service: str, kind: str, name: str) -> Span:
        found = [s for s in self.spans if (s.service, s.kind, s.name) == (service, kind, name)]
        assert len(found) == 1, f"{service} {kind} {name!r}: {found}\n{self}"
        return found[0]

    def served(self, service: str) -> bool:
        return any(s.service == service and s.kind == "server" for s in self.spans)

    def has(self, service: str, kind: str, name: str) -> bool:
        return any((s.service, s.kind, s.name) == (service, kind, name) for s in self.spans)

    def descends(self, span: Span, ancestor: Span) -> bool:
        parent = self.by_id.get(span.parent_id)
        while parent is not None:
            if parent.span_id == ancestor.span_id:
                return True
            parent = self.by_id.get(parent.parent_id)
        return False

    def mongo(self, service: str) -> list[Span]:
        return [
            s
            for s in self.spans
            if s.service == service and s.attributes.get("db.system") == "mongodb"
        ]

    def __str__(self) -> str:
        return "\n".join(str(s) for s in sorted(self.spans, key=lambda s: s.start_ns))


def published(trace: Trace, service: str, topic: str) -> tuple[Span, Span]:
    """The producer spans of one publish to ``topic``: the message's creation (whose context
    the record's headers carry) and the publish under it."""
    create = trace.one(service, "producer", f"{topic} create")
    publish = trace.one(service, "producer", f"{topic} publish")
    assert publish.parent_id == create.span_id
    return create, publish


async def wait_for_trace(traced: Traced, trace_id: str, done: Callable[[Trace], bool]) -> Trace:
    def complete(spans: list[Span]) -> bool:
        return done(Trace([s for s in spans if s.trace_id == trace_id]))

    try:
        await traced.receiver.wait_for(complete, timeout=60)
    except TimeoutError:
        pytest.fail(f"the trace never completed:\n{Trace(traced.receiver.trace(trace_id))}")
    return Trace(traced.receiver.trace(trace_id))


INGEST, ROUTER, AI, QUEUE = (
    "baton-ingest",
    "baton-router",
    "baton-ai-responder",
    "baton-human-queue",
)


async def test_a_message_is_one_trace_from_the_request_to_message_sent(traced: Traced) -> None:
    tok = token()
    rule = reply_rule(tok, "We open at 9 am.")
    assert (await traced.model.post("/_script", json=[rule])).status_code == 200
    text = f"When do you open? {tok}"
    thread_id, trace_id, gateway_span = await say(traced, text)
    received, decided, sent = (
        traced.topic(t) for t in ("message.received", "route.decided", "message.sent")
    )
    # Each service exports on its own schedule: wait for every span the hops are made of.
    expected = (
        (ROUTER, "consumer", f"process {received}"),
        (AI, "consumer", f"process {decided}"),
        (AI, "producer", f"{sent} publish"),
    )
    trace = await wait_for_trace(
        traced,
        trace_id,
        lambda t: t.served(INGEST) and all(t.has(*span) for span in expected),
    )

    request = next(s for s in trace.spans if s.service == INGEST and s.kind == "server")
    assert request.parent_id == gateway_span, "ingest continues the gateway's trace"
    assert "/v1/threads/" in request.name
    received_create, _ = published(trace, INGEST, received)
    assert trace.descends(received_create, request)

    routed = trace.one(ROUTER, "consumer", f"process {received}")
    assert routed.parent_id == received_create.span_id
    decided_create, _ = published(trace, ROUTER, decided)
    assert decided_create.parent_id == routed.span_id

    answering = trace.one(AI, "consumer", f"process {decided}")
    assert answering.parent_id == decided_create.span_id
    [call] = [s for s in trace.spans if s.service == AI and "gen_ai.request.model" in s.attributes]
    assert trace.descends(call, answering)
    assert call.kind == "client"
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.usage.input_tokens"] > 0
    assert call.attributes["gen_ai.usage.output_tokens"] > 0
    assert call.attributes["gen_ai.response.model"]
    sent_create, _ = published(trace, AI, sent)
    assert trace.descends(sent_create, answering)

    hops = [request, received_create, routed, decided_create, answering, call, sent_create]
    starts = [hop.start_ns for hop in hops]
    assert starts == sorted(starts), "the hops are in order"
    assert call.end_ns <= sent_create.start_ns, "the reply goes out after the model answered"

    # Each handler's consumer span says what it handled; ids only.
    for span, topic, group in (
        (routed, received, f"{traced.namespace}.baton-router"),
        (answering, decided, f"{traced.namespace}.baton-ai-responder"),
    ):
        attributes = span.attributes
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.destination.name"] == topic
        assert attributes["messaging.consumer.group.name"] == group
        assert {"messaging.destination.partition.id", "messaging.kafka.offset"} <= set(attributes)
        assert attributes["baton.event.type"] == topic.removeprefix(f"{traced.namespace}.")
        assert attributes["baton.thread_id"] == thread_id
        assert attributes["baton.outcome"] == "handled"

    # MongoDB commands are spans inside the handlers that sent them, never roots.
    for service, handler in ((INGEST, request), (ROUTER, routed), (AI, answering)):
        commands = [c for c in trace.mongo(service) if trace.descends(c, handler)]
        assert commands, f"no MongoDB span of {service}'s handler:\n{trace}"
        assert all(c.kind == "client" and c.attributes["db.mongodb.collection"] for c in commands)
    assert all(c.parent_id for s in (INGEST, ROUTER, AI) for c in trace.mongo(s))

    # No text the user or the model wrote is on any span.
    for span in trace.spans:
        for value in span.attributes.values():
            assert tok not in str(value), f"{span} carries message text"


async def test_a_persons_reply_links_to_the_trace_that_opened_the_ticket(traced: Traced) -> None:
    admin = traced.system.admin_token
    alex: AgentClient = await new_agent(traced.queue, admin, "Alex", "support")
    thread_id, trace_id, _ = await say(traced, f"I want to talk to a human {token()}")
    decided = traced.topic("route.decided")
    trace = await wait_for_trace(
        traced, trace_id, lambda t: t.has(QUEUE, "consumer", f"process {decided}")
    )
    opened = trace.one(QUEUE, "consumer", f"process {decided}")
    assert opened.attributes["baton.outcome"] == "handled"

    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    await alex.act(ticket["ticket_id"], "claim")
    reply_trace, _, header = traceparent()
    replied = await alex.post(
        f"/v1/tickets/{ticket['ticket_id']}/reply",
        {"text": "Hi, Alex here. How can I help?"},
        headers={"traceparent": header},
    )
    assert replied.status_code == 200, replied.text

    sent = traced.topic("message.sent")
    reply = await wait_for_trace(
        traced,
        reply_trace,
        lambda t: t.served(QUEUE) and t.has(QUEUE, "producer", f"{sent} publish"),
    )
    request = next(s for s in reply.spans if s.service == QUEUE and s.kind == "server")
    assert [(link.trace_id, link.span_id) for link in request.links] == [
        (trace_id, opened.span_id)
    ], "the reply links to the handler that opened the ticket"
    sent_create, _ = published(reply, QUEUE, sent)
    assert reply.descends(sent_create, request), "the reply's message.sent is in its own trace"
