from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from baton_contracts import MAX_TEXT_LENGTH
from baton_runtime import KafkaSettings, MongoSettings


class Settings(BaseSettings):
    """Ingest settings (``INGEST_*``; Kafka and MongoDB from ``KAFKA_*`` / ``MONGODB_*``)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    max_text_length: int = Field(default=4000, ge=1, le=MAX_TEXT_LENGTH)
    recovery_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often the conversations' outboxes are swept for events a crash or a "
        "Kafka outage left unpublished (a stored message's message.received, an ownership "
        "change). A recovery path: MongoDB answers the sweep from a partial index, "
        "mongo-java-server scans the threads and messages for it.",
    )
    recovery_grace_s: float = Field(
        default=10.0, ge=0, description="Age an outbox must reach before the sweep takes it."
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
