"""The local stack script's port handling (no servers are started)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.infra import STACK_SCRIPT
from tests.support.scripts import load_script
from tests.support.serving import free_port


@pytest.fixture(scope="module")
def stack() -> ModuleType:
    return load_script(STACK_SCRIPT, "baton_stack_script")


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


def settings(stack: ModuleType, tmp_path: Path, kafka_port: int, wait_s: float) -> Any:
    return stack.Settings(
        stack_dir=tmp_path,
        kafka_port=kafka_port,
        controller_port=free_port(),
        mongo_port=free_port(),
        port_wait_s=wait_s,
    )


def test_a_port_released_while_waiting_is_not_a_problem(
    stack: ModuleType, tmp_path: Path, held_port: tuple[int, socket.socket]
) -> None:
    port, sock = held_port
    kafka = stack.kafka_service(settings(stack, tmp_path, port, wait_s=30))
    assert stack.port_problems(kafka)  # taken right now
    releaser = threading.Timer(0.3, sock.close)
    releaser.start()
    try:
        assert stack.wait_for_ports(kafka) == []
    finally:
        releaser.cancel()


def test_a_port_that_stays_taken_is_named_with_its_variable(
    stack: ModuleType, tmp_path: Path, held_port: tuple[int, socket.socket]
) -> None:
    port, _ = held_port
    kafka = stack.kafka_service(settings(stack, tmp_path, port, wait_s=0.2))
    [problem] = stack.wait_for_ports(kafka)
    assert f"127.0.0.1:{port} is already in use" in problem
    assert "BATON_KAFKA_PORT" in problem


def run_script(stack_dir: Path, command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``scripts/stack.py command`` in a process of its own, on ``stack_dir``, with ``env``."""
    return subprocess.run(  # noqa: S603 - the project's own script
        [sys.executable, str(STACK_SCRIPT), command],
        env={**os.environ, "BATON_STACK_DIR": str(stack_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_up_refuses_a_taken_port_with_a_clear_error(
    tmp_path: Path, held_port: tuple[int, socket.socket]
) -> None:
    port, _ = held_port
    result = run_script(
        tmp_path,
        "up",
        BATON_KAFKA_PORT=str(port),
        BATON_KAFKA_CONTROLLER_PORT=str(free_port()),
        BATON_MONGO_PORT=str(free_port()),
        BATON_STACK_PORT_WAIT_S="0.2",
    )
    assert result.returncode != 0
    assert "cannot start the stack" in result.stderr
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr


def test_port_wait_must_be_a_positive_number(tmp_path: Path) -> None:
    result = run_script(tmp_path, "status", BATON_STACK_PORT_WAIT_S="soon")
    assert result.returncode != 0
    assert "BATON_STACK_PORT_WAIT_S='soon' is not a number of seconds" in result.stderr


def fake_ferretdb_module(root: Path, metadata_go: str) -> Path:
    (root / "build" / "version").mkdir(parents=True)
    metadata = root / "internal" / "backends" / "sqlite" / "metadata" / "metadata.go"
    metadata.parent.mkdir(parents=True)
    metadata.write_text(metadata_go)
    return root


def test_ferretdb_source_gets_the_id_lookup_fix(stack: ModuleType, tmp_path: Path) -> None:
    module = fake_ferretdb_module(
        tmp_path / "module",
        "const (\n\tIDColumn = DefaultColumn + \"->'$._id'\"\n\tOther = 1\n)\n",
    )
    src = tmp_path / "src"
    stack._prepare_ferretdb_source(module, src)
    patched = (src / "internal/backends/sqlite/metadata/metadata.go").read_text()
    # Exactly the expression FerretDB's _id index is created on, so SQLite can use the index.
    assert 'IDColumn = DefaultColumn + `->"_id"`' in patched
    assert "$._id" not in patched
    assert "Other = 1" in patched
    assert (src / "build/version/version.txt").read_text().strip() == stack.FERRETDB_VERSION


def test_ferretdb_source_that_changed_is_refused(stack: ModuleType, tmp_path: Path) -> None:
    module = fake_ferretdb_module(tmp_path / "module", "const IDColumn = somethingElse\n")
    with pytest.raises(stack.StackError, match="cannot patch FerretDB"):
        stack._prepare_ferretdb_source(module, tmp_path / "src")


def test_the_mongodb_server_is_chosen_by_environment(
    stack: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BATON_STACK_DIR", str(tmp_path))
    monkeypatch.delenv("BATON_MONGO_SERVER", raising=False)
    default = stack.Settings.from_env()
    assert default.mongo_server == "mongo-java-server"
    assert stack.mongo_service(default).name == "mongo-java-server"
    monkeypatch.setenv("BATON_MONGO_SERVER", "ferretdb")
    assert stack.mongo_service(stack.Settings.from_env()).name == "ferretdb"


def test_an_unknown_mongodb_server_is_refused(tmp_path: Path) -> None:
    result = run_script(tmp_path, "status", BATON_MONGO_SERVER="mongod")
    assert result.returncode != 0
    assert "BATON_MONGO_SERVER='mongod' is not one of: mongo-java-server, ferretdb" in result.stderr


def test_mongo_java_server_runs_the_launcher_on_the_stack_data(
    stack: ModuleType, tmp_path: Path
) -> None:
    config = settings(stack, tmp_path, free_port(), wait_s=1)
    service = stack.mongo_java_server_service(config)
    earlier = tmp_path / "data" / "mongo-java-server" / "baton.mv.db"
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"a store the launcher cannot read")
    argv = service.launch_argv()
    store = tmp_path / "data" / "mongo-java-server" / "baton-v2.mv.db"
    assert not earlier.exists()
    assert argv[-4:] == [str(store), "127.0.0.1", str(config.mongo_port), "100"]
    assert str(stack.MONGO_JAVA_SERVER_LAUNCHER) in argv
    assert stack.MONGO_JAVA_SERVER_LAUNCHER.is_file()
    # The signature recognises that command line, and only for this stack's data.
    command = " ".join(argv)
    assert service.signature.marker in command
    other = stack.mongo_java_server_service(settings(stack, tmp_path / "other", 1, wait_s=1))
    assert other.signature.marker not in command
