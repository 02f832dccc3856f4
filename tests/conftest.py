"""Session-wide fixtures: real Kafka and MongoDB, and a namespace per test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from baton_runtime import Document, KafkaSettings, MongoSettings
from tests.support.infra import Endpoints, InfrastructureMissingError, endpoints
from tests.support.pipeline import Pipeline, running_pipeline
from tests.support.verdict import CHECKED

_used: list[Endpoints] = []


@pytest.fixture(scope="session")
def infra() -> Iterator[Endpoints]:
    try:
        with endpoints() as found:
            _used.append(found)
            yield found
    except InfrastructureMissingError as exc:
        pytest.fail(f"integration infrastructure is missing: {exc}", pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in CHECKED:
        terminalreporter.write_line(f"fault injection {line}")
    for found in _used:
        terminalreporter.write_line(
            f"integration infrastructure ({found.source}): kafka {found.kafka_bootstrap_servers}, "
            f"mongodb {found.mongodb_url}"
        )


@pytest.fixture(scope="session")
def namespace() -> str:
    """Prefix for this session's topics, groups and database: runs never see each other."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def kafka_settings(infra: Endpoints, namespace: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap_servers, topic_prefix=f"{namespace}."
    )


@pytest.fixture(scope="session")
def mongo_settings(infra: Endpoints, namespace: str) -> MongoSettings:
    return MongoSettings(url=infra.mongodb_url, database=namespace)


@pytest.fixture(scope="session")
async def mongo_client(mongo_settings: MongoSettings) -> AsyncIterator[AsyncMongoClient[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_settings.url.get_secret_value(), tz_aware=True
    )
    yield client
    await client.drop_database(mongo_settings.database)
    await client.close()


@pytest.fixture(scope="session")
async def pipeline(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings
) -> AsyncIterator[Pipeline]:
    """The five services and the scripted model, once per session, for integration and e2e."""
    async with running_pipeline(kafka_settings, mongo_settings) as running:
        yield running


STREAMING_AI: dict[str, Any] = {
    "approval_topics": [],
    "review_token_threshold": 0,
    "stream_interval_ms": 50,
}
"""An ai-responder whose replies may stream: no approval topics, no token limit (decision 19)."""


@pytest.fixture(scope="session")
async def streaming_pipeline(
    infra: Endpoints, mongo_client: AsyncMongoClient[Document]
) -> AsyncIterator[Pipeline]:
    """A second pipeline, on topics and a database of its own, whose AI replies stream as
    they are written; the session's pipeline has approval topics and a token limit, so its
    replies never do."""
    namespace = f"s{uuid.uuid4().hex[:12]}"
    kafka = KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap_servers, topic_prefix=f"{namespace}."
    )
    mongo = MongoSettings(url=infra.mongodb_url, database=namespace)
    try:
        async with running_pipeline(kafka, mongo, ai=STREAMING_AI) as running:
            yield running
    finally:
        await mongo_client.drop_database(namespace)
