"""Where the test session finds Kafka and MongoDB.

In order: endpoints from ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URL``; containers
through testcontainers when a Docker engine answers; else the project's local stack
(``python -m baton_stack``, the same one ``make stack-up`` runs). Anything missing fails the
session with the reason; no integration test is skipped for lack of infrastructure.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from baton_testkit import STACK_COMMAND

ROOT = Path(__file__).resolve().parents[2]
KAFKA_IMAGE = "apache/kafka:3.9.2"
MONGO_IMAGE = "mongo:7"


class InfrastructureMissingError(RuntimeError):
    pass


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str
    mongodb_url: str
    source: str


def _docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:
        return False
    return True


@contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with (
        KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka,
        MongoDbContainer(MONGO_IMAGE) as mongo,
    ):
        yield Endpoints(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")


@contextmanager
def _local_stack() -> Iterator[Endpoints]:
    proc = subprocess.run(  # noqa: S603 - our own tool
        [*STACK_COMMAND, "up", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if proc.returncode != 0:
        raise InfrastructureMissingError(
            "the local Kafka/MongoDB stack did not start "
            f"(`python -m baton_stack up` exited {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    try:
        yield Endpoints(info["kafka_bootstrap_servers"], info["mongodb_url"], "local stack")
    finally:
        # A stack this session started is stopped with it; one that was already running
        # belongs to someone else (`make stack-up`) and stays.
        if info.get("started"):
            subprocess.run(  # noqa: S603
                [*STACK_COMMAND, "down"], capture_output=True, check=False
            )


@contextmanager
def endpoints() -> Iterator[Endpoints]:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    mongo = os.environ.get("MONGODB_URL")
    if kafka and mongo:
        yield Endpoints(kafka, mongo, "environment")
    elif kafka or mongo:
        raise InfrastructureMissingError(
            "set both KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL, or neither"
        )
    elif _docker_engine_answers():
        with _containers() as found:
            yield found
    else:
        with _local_stack() as found:
            yield found
