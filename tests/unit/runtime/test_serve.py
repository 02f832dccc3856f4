"""serve(): what exists before serving is frozen out of the garbage collector's reach, and a
metrics port is a second socket of the same server."""

from __future__ import annotations

import gc
import socket
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from baton_runtime import HttpSettings, serve
from baton_runtime._exposure import ByPort, install_metrics
from baton_testkit import free_port


def _served(monkeypatch: pytest.MonkeyPatch, app: FastAPI, port: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def run(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        addresses = [s.getsockname()[:2] for s in sockets or []]
        for sock in sockets or []:
            sock.close()
        seen.update(app=server.config.app, addresses=addresses, frozen=gc.get_freeze_count())

    monkeypatch.setattr(uvicorn.Server, "run", run)
    try:
        serve(app, host="127.0.0.1", port=port)
    finally:
        gc.unfreeze()
    return seen


def test_the_composed_process_is_frozen_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    app = FastAPI()
    port = free_port()

    seen = _served(monkeypatch, app, port)

    assert seen["app"] is app
    assert seen["addresses"] == [("127.0.0.1", port)]
    assert seen["frozen"] > 10_000  # the imported libraries at least


def test_a_metrics_port_is_a_second_socket_of_the_same_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = FastAPI()
    api_port, metrics_port = free_port(), free_port()
    install_metrics(app, HttpSettings(metrics_port=metrics_port))

    seen = _served(monkeypatch, app, api_port)

    assert isinstance(seen["app"], ByPort)
    assert seen["addresses"] == [("127.0.0.1", api_port), ("127.0.0.1", metrics_port)]
