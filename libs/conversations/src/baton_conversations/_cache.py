"""What a process keeps of messages that can no longer change."""

from __future__ import annotations

from collections import OrderedDict

from ._model import Message


class Settled:
    """A bounded map of messages that can no longer change, by id, least recently used out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, Message] = OrderedDict()

    def get(self, message_id: str) -> Message | None:
        message = self._entries.get(message_id)
        if message is not None:
            self._entries.move_to_end(message_id)
        return message

    def keep(self, message: Message) -> Message:
        if message.settled:
            key = str(message.message_id)
            self._entries[key] = message
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return message
