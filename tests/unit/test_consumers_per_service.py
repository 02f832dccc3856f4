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


def consumers_per_topic(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, settings: Any
) -> Counter[str]:
    """The consumers per topic of the app ``module`` builds (nothing connects)."""
    built: list[KafkaBroker] = []
    real = module.build_broker

    def capture(*args: Any, **kwargs: Any) -> KafkaBroker:
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(module, "build_broker", capture)
    module.create_app(settings)
    (broker,) = built
    subscribers = [cast(BatchSubscriber, s) for s in broker.subscribers]
    return Counter(name for s in subscribers for name in s.topic_names_for_subscribe)


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
