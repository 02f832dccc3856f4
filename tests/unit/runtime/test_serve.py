"""serve(): what exists before serving is frozen out of the garbage collector's reach, and a
metrics port is a second socket of the same server."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from baton_runtime import HttpSettings, serve
from baton_runtime._exposure import ByPort, install_metrics
from baton_runtime._service import DrainingServer
from baton_testkit import free_port
from tests.support.waiting import until


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


async def test_the_app_hears_when_shutdown_begins_so_streams_need_not_hold_it_up() -> None:
    app = FastAPI()
    draining = asyncio.Event()

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"open\n"
            await draining.wait()  # an event stream, open until the app is told to stop

        return StreamingResponse(body(), media_type="text/event-stream")

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        timeout_graceful_shutdown=60,
    )
    server = DrainingServer(config, [draining.set])
    serving = asyncio.create_task(server._serve())
    await until(lambda: server.started)
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", f"http://127.0.0.1:{port}/stream") as response,
    ):
        lines = response.aiter_lines()
        assert await anext(lines) == "open"
        server.should_exit = True
        # Without the drain step the server would wait its whole graceful minute.
        rest = await asyncio.wait_for(rest_of(lines), 5)
    assert rest == []
    await asyncio.wait_for(serving, 10)


async def rest_of(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]
