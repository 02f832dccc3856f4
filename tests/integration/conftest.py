from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from baton_runtime.settings import KafkaSettings, MongoSettings
from tests.support.pipeline import Pipeline, running_pipeline


@pytest.fixture(scope="session")
async def pipeline(
    kafka_settings: KafkaSettings, mongo_settings: MongoSettings
) -> AsyncIterator[Pipeline]:
    async with running_pipeline(kafka_settings, mongo_settings) as running:
        yield running
