"""A MongoDB server that stops answering: the command fails, it does not hang."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlparse

import pytest
from pydantic import SecretStr
from pymongo.errors import NetworkTimeout

from baton_runtime import MongoSettings, connect_mongo


class SilencingProxy:
    """Forwards TCP to the real server until ``silence()``; then it swallows requests."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.silent = False
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if not self.silent:
                    dst.write(data)
                    await dst.drain()

        with contextlib.suppress(ConnectionError):
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        writer.close()
        up_writer.close()


async def test_a_server_that_stops_answering_fails_the_command(
    mongo_settings: MongoSettings,
) -> None:
    url = urlparse(mongo_settings.url.get_secret_value())
    proxy = SilencingProxy(url.hostname or "127.0.0.1", url.port or 27017)
    await proxy.start()
    settings = mongo_settings.model_copy(
        update={
            "url": SecretStr(f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"),
            "socket_timeout_ms": 500,
        }
    )
    client = connect_mongo(settings, app_name="timeout-test")
    try:
        await client[settings.database].command("ping")  # answered through the proxy
        proxy.silent = True
        with pytest.raises(NetworkTimeout):
            await asyncio.wait_for(client[settings.database].command("ping"), timeout=20)
    finally:
        await client.close()
        await proxy.close()
