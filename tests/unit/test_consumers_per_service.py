"""What each service consumes, as its composition root wires it (nothing connects)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

import baton_ai_responder.app as ai_app
import baton_human_queue.app as human_queue_app
import baton_ingest.app as ingest_app
import baton_router.app as router_app
from baton_ai_responder.settings import Settings as AiSettings
from baton_contracts import topics
from baton_human_queue.settings import Settings as HumanQueueSettings
from baton_ingest.settings import Settings as IngestSettings
from baton_router.settings import Settings as RouterSettings
from baton_runtime import KeyedConsumer


def consumers(app: FastAPI) -> dict[str, KeyedConsumer]:
    found: tuple[KeyedConsumer, ...] = app.state.consumers
    by_topic = {consumer.topic: consumer for consumer in found}
    assert len(by_topic) == len(found), "one consumer per topic"
    return by_topic


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (
            lambda: ingest_app.create_app(IngestSettings(env="dev")),
            {
                topics.MESSAGE_SUBMITTED,
                topics.MESSAGE_SENT,
                topics.THREAD_ASSIGNED,
                topics.MESSAGE_DELTA,
            },
        ),
        (lambda: router_app.create_app(RouterSettings()), {topics.MESSAGE_RECEIVED}),
        (
            lambda: ai_app.create_app(AiSettings()),
            {
                topics.ROUTE_DECIDED,
                topics.HUMAN_RESPONDED,
                topics.DRAFT_APPROVED,
                topics.DRAFT_REJECTED,
                topics.ACTION_DECIDED,
                topics.TICKET_EXPIRED,
                topics.TICKET_OPENED,
            },
        ),
        (
            lambda: human_queue_app.create_app(HumanQueueSettings(env="dev")),
            {
                topics.ROUTE_DECIDED,
                topics.TOOL_HUMAN_REQUESTED,
                topics.THREAD_ASSIGNED,
                topics.THREAD_RATED,
                topics.TICKET_SUMMARIZED,
                topics.ACTION_EXECUTED,
            },
        ),
    ],
)
def test_each_service_consumes_its_topics_once(app: Any, expected: set[str]) -> None:
    assert set(consumers(app())) == expected


def test_the_human_queue_picks_records_up_within_its_pickup_time() -> None:
    app = human_queue_app.create_app(HumanQueueSettings(env="dev"))
    # Kafka answers its fetches after PICKUP_MS unless a megabyte has arrived first.
    assert {c.pickup_ms for c in consumers(app).values()} == {human_queue_app.PICKUP_MS}


def test_the_pipeline_picks_records_up_as_they_arrive() -> None:
    for app in (
        ingest_app.create_app(IngestSettings(env="dev")),
        router_app.create_app(RouterSettings()),
        ai_app.create_app(AiSettings()),
    ):
        assert {c.pickup_ms for c in consumers(app).values()} == {None}
