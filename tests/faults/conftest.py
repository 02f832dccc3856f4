"""Baton as real processes on a local stack of its own, for the fault-injection tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from baton_contracts import topics
from baton_runtime import KafkaSettings
from baton_testkit import FAST_RECOVERY, LocalStack, System, new_namespace
from tests.support.infra import ROOT
from tests.support.recorder import Recorder, record_topics

FAULT_STACK_PORTS = (19192, 19193, 17217)
WATCHED = (*topics.ALL, *(topics.dead_letter_topic(t) for t in topics.ALL))
SCALE_OUT_PARTITIONS = 6
"""The partitions of every topic of the ``scale-out`` scenario's system."""
APPROVAL_TOPIC = "refund"
"""The ``scale-out`` system's approval topic: the testkit's ``APPROVAL_TEXT`` is about it."""


@dataclass
class Faults:
    system: System
    recorder: Recorder
    kafka: KafkaSettings
    ingest: httpx.AsyncClient
    model: httpx.AsyncClient


@asynccontextmanager
async def running(stack: LocalStack, logs: Path, **env: str) -> AsyncIterator[Faults]:
    """Baton on ``stack`` with a namespace of its own (topics, consumer groups, database),
    its services run with ``env`` on top of :data:`FAST_RECOVERY`; stopped on exit."""
    namespace = new_namespace("f")
    system = System(stack, namespace, logs=logs, overrides={**FAST_RECOVERY, **env})
    try:
        await system.start_all()
        kafka = KafkaSettings(bootstrap_servers=stack.kafka, topic_prefix=f"{namespace}.")
        async with (
            record_topics(kafka, *WATCHED) as recorder,
            httpx.AsyncClient(
                base_url=system.programs["ingest"].url, timeout=10, headers=system.ingest_headers
            ) as ingest,
            httpx.AsyncClient(base_url=system.programs["scripted-model"].url, timeout=10) as model,
        ):
            yield Faults(system, recorder, kafka, ingest, model)
    finally:
        await system.stop_all()


@pytest.fixture(scope="module")
async def faults(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Faults]:
    # A stack of its own (downloads and data under .stack/faults, fixed ports so a leftover
    # from an interrupted run is found and reused), since these tests stop and restart Kafka
    # and the MongoDB server.
    stack = LocalStack(ROOT / ".stack" / "faults", *FAULT_STACK_PORTS)
    try:
        await stack.up()
    except RuntimeError as exc:
        await stack.down()
        pytest.fail(f"the fault-injection stack did not start: {exc}", pytrace=False)
    try:
        async with running(stack, tmp_path_factory.mktemp("fault-logs")) as started:
            yield started
    finally:
        await stack.down()


@pytest.fixture
async def scale_out(
    faults: Faults, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Faults]:
    """A second Baton on the faults' stack whose topics (its own, by its namespace) have
    :data:`SCALE_OUT_PARTITIONS` partitions, and whose AI holds replies about refunds for a
    person's approval (so none of its replies stream: decision 19); one instance of each
    program, like ``faults``."""
    async with running(
        faults.system.stack,
        tmp_path_factory.mktemp("scale-out-logs"),
        KAFKA_TOPIC_PARTITIONS=str(SCALE_OUT_PARTITIONS),
        AI_RESPONDER_APPROVAL_TOPICS=APPROVAL_TOPIC,
    ) as started:
        yield started
