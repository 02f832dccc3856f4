"""The thread streams' parts, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from baton_runtime import KafkaSettings

from .feed import LiveFeed
from .hub import Hub
from .settings import LiveSettings


@dataclass(frozen=True)
class Live:
    settings: LiveSettings
    hub: Hub
    feed: LiveFeed

    @classmethod
    def build(cls, settings: LiveSettings, kafka: KafkaSettings, *, client_id: str) -> Live:
        hub = Hub(
            max_streams=settings.max_streams,
            per_thread=settings.max_streams_per_thread,
            buffer_bytes=settings.buffer_bytes,
        )
        return cls(settings=settings, hub=hub, feed=LiveFeed(kafka, hub, client_id=client_id))
