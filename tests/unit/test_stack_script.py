"""The local stack tool (``baton_stack``): settings, configuration it writes, pid and port
handling, its command line. No server is started."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton_stack import kafka, maven, mongo_java_server, prerequisites, probes, stack
from baton_stack.cli import main, up_json
from baton_stack.errors import ProbeError, StackError
from baton_stack.processes import Signature, read_pid, write_pid
from baton_stack.settings import Settings, default_stack_dir
from baton_testkit import STACK_COMMAND, free_port
from tests.support.infra import ROOT


@pytest.fixture
def held_port() -> Iterator[tuple[int, socket.socket]]:
    sock = socket.socket()
    port = free_port()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    try:
        yield port, sock
    finally:
        sock.close()


def settings(tmp_path: Path, kafka_port: int | None = None, wait_s: float = 1) -> Settings:
    return Settings(
        stack_dir=tmp_path,
        kafka_port=kafka_port or free_port(),
        controller_port=free_port(),
        mongo_port=free_port(),
        port_wait_s=wait_s,
    )


# --------------------------------------------------------------------------- settings


def test_settings_default_to_the_repository_stack_and_the_usual_ports() -> None:
    config = Settings.from_env({})
    assert config.stack_dir == ROOT / ".stack" == default_stack_dir()
    assert (config.kafka_port, config.controller_port, config.mongo_port) == (9092, 9093, 27017)
    assert config.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert config.mongodb_url == "mongodb://127.0.0.1:27017/"
    assert (config.up_timeout_s, config.port_wait_s) == (90, 20)


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    config = Settings.from_env(
        {
            "BATON_STACK_DIR": str(tmp_path / "stack"),
            "BATON_KAFKA_PORT": "19092",
            "BATON_KAFKA_CONTROLLER_PORT": "19093",
            "BATON_MONGO_PORT": "27117",
            "BATON_STACK_TIMEOUT": "30",
            "BATON_STACK_PORT_WAIT_S": "0.5",
        }
    )
    assert config == Settings(tmp_path / "stack", 19092, 19093, 27117, 30, 0.5)
    assert config.run_dir == tmp_path / "stack" / "run"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATON_KAFKA_PORT": "kafka"}, "BATON_KAFKA_PORT='kafka' is not a TCP port number"),
        ({"BATON_MONGO_PORT": "70000"}, "BATON_MONGO_PORT='70000' is not a TCP port number"),
        ({"BATON_KAFKA_CONTROLLER_PORT": "9092"}, "ports must differ"),
        ({"BATON_STACK_PORT_WAIT_S": "soon"}, "'soon' is not a number of seconds"),
        ({"BATON_STACK_TIMEOUT": "0"}, "BATON_STACK_TIMEOUT must be positive"),
    ],
)
def test_bad_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(StackError, match=message):
        Settings.from_env(env)


def test_the_stack_directory_keeps_itself_out_of_git(tmp_path: Path) -> None:
    config = settings(tmp_path / "stack")
    config.ensure_dirs()
    assert (tmp_path / "stack" / ".gitignore").read_text() == "*\n"
    assert all(path.is_dir() for path in (config.run_dir, config.logs_dir, config.conf_dir))


# --------------------------------------------------------------------------- configuration


def test_kafka_listens_on_the_configured_ports_only(tmp_path: Path) -> None:
    config = Settings(tmp_path, kafka_port=19092, controller_port=19093, mongo_port=27117)
    props = dict(
        line.split("=", 1) for line in kafka.server_properties(config, tmp_path).splitlines()
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path)
    assert props["auto.create.topics.enable"] == "true"


def test_kafka_logs_to_its_file_and_quiets_the_chatty_loggers(tmp_path: Path) -> None:
    log4j = kafka.log4j_properties(tmp_path / "kafka-server.log")
    assert f"log4j.appender.file.File={tmp_path / 'kafka-server.log'}" in log4j
    assert "log4j.logger.kafka.request.logger=WARN" in log4j


def test_kafka_cluster_id_is_made_once_per_data_directory(tmp_path: Path) -> None:
    path = tmp_path / "cluster-id"
    first = kafka.cluster_id(path)
    assert len(first) == 22
    assert not first.startswith("-")
    assert kafka.cluster_id(path) == first


def test_mongo_java_server_runs_the_launcher_on_the_stack_data(tmp_path: Path) -> None:
    config = settings(tmp_path)
    service = mongo_java_server.service(config)
    earlier = tmp_path / "data" / "mongo-java-server" / "baton.mv.db"
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"a store the launcher cannot read")
    argv = service.launch_argv()
    store = tmp_path / "data" / "mongo-java-server" / "baton-v2.mv.db"
    assert not earlier.exists()
    assert argv[-5:] == [
        str(mongo_java_server.LAUNCHER),
        str(store),
        "127.0.0.1",
        str(config.mongo_port),
        "100",
    ]
    assert mongo_java_server.LAUNCHER.is_file()  # package data beside the module
    # The signature recognises that command line, and only for this stack's data.
    command = " ".join(argv)
    assert service.signature.matches_command(command)
    other = mongo_java_server.service(settings(tmp_path / "other"))
    assert not other.signature.matches_command(command)


def test_maven_installs_exactly_the_named_artifacts(tmp_path: Path) -> None:
    pom = maven.runtime_pom("kafka-runtime", [("org.slf4j", "slf4j-reload4j", "1.7.36")])
    assert "<artifactId>kafka-runtime</artifactId>" in pom
    assert (
        "<groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>"
        "<version>1.7.36</version>" in pom
    )
    assert not maven.jars_installed(tmp_path, "3.9.2")
    (tmp_path / ".installed").write_text("3.9.1\n")
    assert not maven.jars_installed(tmp_path, "3.9.2")  # an older install is redone
    (tmp_path / ".installed").write_text("3.9.2\n")
    assert maven.jars_installed(tmp_path, "3.9.2")


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_java_version_is_read_from_its_banner(output: str, major: int | None) -> None:
    assert prerequisites.java_major_version(output) == major


# --------------------------------------------------------------------------- pids and ports


def test_a_pid_file_is_trusted_only_for_a_matching_process(tmp_path: Path) -> None:
    config = settings(tmp_path)
    config.ensure_dirs()
    service = kafka.service(config)
    assert read_pid(service.pid_file) is None
    service.pid_file.write_text("not a pid\n")
    assert read_pid(service.pid_file) is None
    write_pid(service.pid_file, os.getpid())  # a live process, but not this stack's Kafka
    assert read_pid(service.pid_file) == os.getpid()
    assert service.running_pid() is None


def test_a_signature_wants_the_program_and_the_marker() -> None:
    signature = Signature("java", "kafka.Kafka /stack/conf/kafka/server.properties")
    assert signature.matches_command(
        "/usr/bin/java -cp x kafka.Kafka /stack/conf/kafka/server.properties"
    )
    assert not signature.matches_command(
        "/usr/bin/java -cp x kafka.Kafka /other/conf/kafka/server.properties"
    )
    assert not signature.matches_command("grep kafka.Kafka /stack/conf/kafka/server.properties")


def test_a_port_released_while_waiting_is_not_a_problem(
    tmp_path: Path, held_port: tuple[int, socket.socket]
) -> None:
    port, sock = held_port
    service = kafka.service(settings(tmp_path, port, wait_s=30))
    assert service.port_problems()  # taken right now
    releaser = threading.Timer(0.3, sock.close)
    releaser.start()
    try:
        assert service.wait_for_ports() == []
    finally:
        releaser.cancel()


def test_a_port_that_stays_taken_is_named_with_its_variable(
    tmp_path: Path, held_port: tuple[int, socket.socket]
) -> None:
    port, _ = held_port
    [problem] = kafka.service(settings(tmp_path, port, wait_s=0.2)).wait_for_ports()
    assert f"127.0.0.1:{port} is already in use" in problem
    assert "BATON_KAFKA_PORT" in problem


# --------------------------------------------------------------------------- probes


def test_probes_report_a_server_that_is_not_there() -> None:
    port = free_port()
    with pytest.raises(ProbeError, match=f"127.0.0.1:{port}"):
        probes.kafka(f"127.0.0.1:{port}", timeout=2)
    with pytest.raises(ProbeError, match=f"127.0.0.1:{port}"):
        probes.mongo(f"mongodb://127.0.0.1:{port}/", timeout=0.2)


# --------------------------------------------------------------------------- command line


def test_up_json_names_the_endpoints_and_the_mongodb_server(tmp_path: Path) -> None:
    config = settings(tmp_path)
    info = json.loads(up_json(config, started=True))
    assert info == {
        "kafka_bootstrap_servers": config.kafka_bootstrap_servers,
        "mongodb_url": config.mongodb_url,
        "mongo_server": "mongo-java-server",
        "started": True,
    }
    # baton_testkit's LocalStack finds the server's pid file by that name.
    [mongo] = [s for s in stack.services(config) if s.name == info["mongo_server"]]
    assert mongo.pid_file == tmp_path / "run" / "mongo-java-server.pid"


def test_a_bad_setting_is_one_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("BATON_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("BATON_STACK_PORT_WAIT_S", "soon")
    assert main(["status"]) == 1
    assert capsys.readouterr().err == (
        "python -m baton_stack: error: BATON_STACK_PORT_WAIT_S='soon' is not a number of seconds\n"
    )


def test_up_refuses_a_taken_port_with_a_clear_error(
    tmp_path: Path, held_port: tuple[int, socket.socket]
) -> None:
    port, _ = held_port
    result = subprocess.run(  # noqa: S603 - the project's own tool
        [*STACK_COMMAND, "up", "--json"],
        env={
            **os.environ,
            "BATON_STACK_DIR": str(tmp_path),
            "BATON_KAFKA_PORT": str(port),
            "BATON_KAFKA_CONTROLLER_PORT": str(free_port()),
            "BATON_MONGO_PORT": str(free_port()),
            "BATON_STACK_PORT_WAIT_S": "0.2",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot start the stack" in result.stderr
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr
