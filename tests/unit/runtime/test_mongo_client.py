"""The MongoDB client's options (nothing connects: PyMongo connects on first use)."""

from __future__ import annotations

from pymongo.errors import NetworkTimeout

from baton_runtime import TRANSIENT_ERRORS, MongoSettings, connect_mongo


async def test_commands_time_out_after_the_socket_timeout() -> None:
    client = connect_mongo(MongoSettings(), app_name="test")
    try:
        assert client.options.pool_options.socket_timeout == 30.0
    finally:
        await client.close()


async def test_a_socket_timeout_of_zero_waits_for_ever() -> None:
    client = connect_mongo(MongoSettings(socket_timeout_ms=0), app_name="test")
    try:
        assert client.options.pool_options.socket_timeout is None
    finally:
        await client.close()


def test_a_timed_out_command_is_an_infrastructure_error_the_runner_retries() -> None:
    assert issubclass(NetworkTimeout, TRANSIENT_ERRORS)
