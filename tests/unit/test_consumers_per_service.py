"""How many consumers each service gives a subscription by default: more where handlers wait
on a model, one where they only talk to Kafka and MongoDB (see consumer.MODEL_WORKERS)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber

import baton_ai_responder.app as ai_app
import baton_human_queue.app as human_queue_app
import baton_ingest.app as ingest_app
import baton_router.app as router_app
from baton_ai_responder.settings import Settings as AiSettings
from baton_human_queue.settings import Settings as HumanQueueSettings
from baton_ingest.settings import Settings as IngestSettings
from baton_router.settings import Settings as RouterSettings
from baton_runtime.consumer import MODEL_WORKERS


def subscribers_of(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, settings: Any
) -> list[BatchSubscriber]:
    """The subscribers of the app ``module`` builds (nothing connects)."""
    built: list[KafkaBroker] = []
    real = module.build_broker

    def capture(*args: Any, **kwargs: Any) -> KafkaBroker:
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(module, "build_broker", capture)
    module.create_app(settings)
    (broker,) = built
    return [cast(BatchSubscriber, s) for s in broker.subscribers]


def consumers_per_topic(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, settings: Any
) -> Counter[str]:
    """The consumers per topic of the app ``module`` builds."""
    subscribers = subscribers_of(monkeypatch, module, settings)
    return Counter(name for s in subscribers for name in s.topic_names_for_subscribe)


def fetch_waits(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, settings: Any
) -> set[tuple[int, int]]:
    """(fetch_min_bytes, fetch_max_wait_ms) of the app's consumers, as FastStream will
    create them."""
    subscribers = subscribers_of(monkeypatch, module, settings)
    args = [s._connection_args for s in subscribers]
    return {(a["fetch_min_bytes"], a["fetch_max_wait_ms"]) for a in args}


def test_the_ai_responder_works_on_partitions_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = consumers_per_topic(monkeypatch, ai_app, AiSettings())
    assert counts
    assert set(counts.values()) == {MODEL_WORKERS}


@pytest.mark.parametrize(
    ("module", "settings"),
    [
        (router_app, RouterSettings),
        (ingest_app, IngestSettings),
        (human_queue_app, lambda: HumanQueueSettings(env="dev")),
    ],
)
def test_services_without_model_calls_have_one_consumer_per_subscription(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, settings: Callable[[], Any]
) -> None:
    counts = consumers_per_topic(monkeypatch, module, settings())
    assert counts
    assert set(counts.values()) == {1}


def test_the_router_with_a_classifier_works_on_partitions_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = RouterSettings(classifier_enabled=True)
    assert set(consumers_per_topic(monkeypatch, router_app, settings).values()) == {MODEL_WORKERS}


def test_the_setting_overrides_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_CONSUMER_WORKERS", "2")
    assert set(consumers_per_topic(monkeypatch, ai_app, AiSettings()).values()) == {2}
    assert set(consumers_per_topic(monkeypatch, router_app, RouterSettings()).values()) == {2}


def test_the_human_queue_picks_records_up_within_its_pickup_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = HumanQueueSettings(env="dev")
    # Kafka answers its fetches after PICKUP_MS unless a megabyte has arrived first.
    assert fetch_waits(monkeypatch, human_queue_app, settings) == {
        (1024 * 1024, human_queue_app.PICKUP_MS)
    }


@pytest.mark.parametrize(
    ("module", "settings"),
    [(router_app, RouterSettings), (ingest_app, IngestSettings), (ai_app, AiSettings)],
)
def test_the_pipeline_picks_records_up_as_they_arrive(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, settings: Callable[[], Any]
) -> None:
    # A fetch is answered as soon as one record is there.
    assert fetch_waits(monkeypatch, module, settings()) == {(1, 500)}
