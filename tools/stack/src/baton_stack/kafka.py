"""Apache Kafka in KRaft combined mode (one broker that is also the controller), from its
Maven Central jars on the installed Java."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import probes
from .logs import run_logged, say
from .maven import install_jars, jars_installed
from .prerequisites import Tool, java_executable
from .processes import Signature
from .service import Service
from .settings import HOST, Settings

NAME = "kafka"
KAFKA_VERSION = "3.9.2"
SCALA_VERSION = "2.13"
SLF4J_VERSION = "1.7.36"

# Loggers that say at INFO what a local stack's user never needs.
QUIET_LOGGERS = (
    "kafka.request.logger",
    "state.change.logger",
    "kafka.controller",
    "org.apache.kafka.storage.internals.log",
    "org.apache.kafka.raft",
    "kafka.coordinator",
    "org.apache.kafka.coordinator",
    "org.apache.kafka.clients",
    "org.apache.kafka.common.utils.AppInfoParser",
    "kafka.server.metadata",
    "org.apache.kafka.controller",
    "org.apache.kafka.image",
    "kafka.log",
    "kafka.cluster",
)


@dataclass(frozen=True)
class KafkaPaths:
    home: Path
    server_properties: Path
    log4j: Path
    log_dir: Path
    cluster_id: Path
    server_log: Path
    install_log: Path

    @classmethod
    def of(cls, settings: Settings) -> KafkaPaths:
        return cls(
            home=settings.stack_dir / f"kafka-{KAFKA_VERSION}",
            server_properties=settings.conf_dir / "kafka" / "server.properties",
            log4j=settings.conf_dir / "kafka" / "log4j.properties",
            log_dir=settings.data_dir / "kafka" / "logs",
            cluster_id=settings.data_dir / "kafka" / "cluster-id",
            server_log=settings.logs_dir / "kafka-server.log",
            install_log=settings.logs_dir / "kafka-install.log",
        )


def server_properties(settings: Settings, log_dir: Path) -> str:
    plaintext = f"{HOST}:{settings.kafka_port}"
    controller = f"{HOST}:{settings.controller_port}"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{controller}",
        "listeners": f"PLAINTEXT://{plaintext},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{plaintext}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "3",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Sized for a 2-core laptop rather than a production broker.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def log4j_properties(server_log: Path) -> str:
    lines = [
        "log4j.rootLogger=INFO, file",
        "log4j.appender.file=org.apache.log4j.RollingFileAppender",
        f"log4j.appender.file.File={server_log}",
        "log4j.appender.file.MaxFileSize=10MB",
        "log4j.appender.file.MaxBackupIndex=2",
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
        *(f"log4j.logger.{name}=WARN" for name in QUIET_LOGGERS),
    ]
    return "\n".join(lines) + "\n"


def new_cluster_id() -> str:
    """A random cluster id of the shape ``kafka-storage random-uuid`` prints."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):  # Kafka avoids these too: they read as CLI options
            return cluster_id


def cluster_id(path: Path) -> str:
    """The cluster id of the data directory, created on first use."""
    if path.is_file():
        return path.read_text().strip()
    created = new_cluster_id()
    path.write_text(created + "\n")
    return created


def _java(paths: KafkaPaths) -> list[str]:
    return [
        java_executable() or "java",
        f"-Dlog4j.configuration=file:{paths.log4j}",
        "-Djava.awt.headless=true",
        "-cp",
        f"{paths.home / 'libs'}/*",
    ]


def install(settings: Settings) -> None:
    paths = KafkaPaths.of(settings)
    install_jars(
        paths.home,
        paths.install_log,
        name=NAME,
        what=f"Kafka {KAFKA_VERSION}",
        deps=[
            ("org.apache.kafka", f"kafka_{SCALA_VERSION}", KAFKA_VERSION),
            ("org.slf4j", "slf4j-reload4j", SLF4J_VERSION),
        ],
        version=KAFKA_VERSION,
    )


def prepare(settings: Settings) -> list[str]:
    """Write the configuration, format the storage on first use; return the broker's argv."""
    paths = KafkaPaths.of(settings)
    paths.server_properties.parent.mkdir(parents=True, exist_ok=True)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    paths.server_properties.write_text(server_properties(settings, paths.log_dir))
    paths.log4j.write_text(log4j_properties(paths.server_log))
    if not (paths.log_dir / "meta.properties").is_file():
        cluster = cluster_id(paths.cluster_id)
        say(f"kafka: formatting storage in {paths.log_dir} (cluster id {cluster})")
        run_logged(
            [
                *_java(paths),
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster,
                "-c",
                str(paths.server_properties),
            ],
            paths.install_log,
            cwd=settings.logs_dir,
            what="formatting Kafka storage",
        )
    return [
        *_java(paths),
        "-Xms256m",
        "-Xmx512m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "kafka.Kafka",
        str(paths.server_properties),
    ]


def service(settings: Settings) -> Service:
    paths = KafkaPaths.of(settings)
    return Service(
        name=NAME,
        settings=settings,
        ports={
            settings.kafka_port: "BATON_KAFKA_PORT",
            settings.controller_port: "BATON_KAFKA_CONTROLLER_PORT",
        },
        address=settings.kafka_bootstrap_servers,
        signature=Signature("java", f"kafka.Kafka {paths.server_properties}"),
        probe=lambda: probes.kafka(settings.kafka_bootstrap_servers),
        is_installed=lambda: jars_installed(paths.home, KAFKA_VERSION),
        install=lambda: install(settings),
        launch_argv=lambda: prepare(settings),
        install_tools=frozenset({Tool.MAVEN}),
        run_tools=frozenset({Tool.JAVA}),
        extra_logs=(paths.server_log,),
    )
