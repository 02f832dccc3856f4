"""Counting the MongoDB commands a client sends."""

from __future__ import annotations

from pymongo import AsyncMongoClient, monitoring

from baton_runtime import Document, MongoSettings


class CommandCounter(monitoring.CommandListener):
    """Records ``"<command> <collection>"`` for every find, insert, update, delete and
    findAndModify started."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in ("find", "insert", "update", "delete", "findAndModify"):
            self.commands.append(f"{name} {event.command[name]}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def counting_client(settings: MongoSettings) -> tuple[AsyncMongoClient[Document], CommandCounter]:
    """A client of its own (another process, as far as caches go) whose commands are
    counted; the caller closes it."""
    counter = CommandCounter()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.url.get_secret_value(), tz_aware=True, event_listeners=[counter]
    )
    return client, counter
