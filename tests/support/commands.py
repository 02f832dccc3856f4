"""Counting the MongoDB commands a client sends."""

from __future__ import annotations

from pymongo import monitoring


class CommandCounter(monitoring.CommandListener):
    """Records ``"<command> <collection>"`` for every find, insert and update started."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in ("find", "insert", "update"):
            self.commands.append(f"{name} {event.command[name]}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
