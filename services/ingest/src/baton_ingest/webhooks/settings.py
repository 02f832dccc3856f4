from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    """How ingest posts events to the gateways' webhook URLs (``INGEST_WEBHOOK_*``). The
    bounds on concurrency are per ingest instance."""

    model_config = SettingsConfigDict(env_prefix="INGEST_WEBHOOK_", extra="ignore")

    allow_http: bool = Field(
        default=False,
        description="Accept plain `http://` webhook URLs to any host (development only). "
        "`http://` to a loopback address (`localhost`, `127.0.0.1`, `[::1]`) is always "
        "accepted; anything else must be `https://`.",
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long one POST may take, connecting included, before it counts as "
        "failed and is retried.",
    )
    max_attempts: int = Field(
        default=12,
        ge=1,
        le=100,
        description="Tries of one delivery before it becomes a dead letter (with the "
        "defaults, the last try comes 1.2 to 2.4 hours after the first).",
    )
    backoff_initial_s: float = Field(
        default=5.0,
        gt=0,
        description="Wait before the second try; each later wait doubles, up to "
        "`INGEST_WEBHOOK_BACKOFF_MAX_S`, and is jittered down by up to half.",
    )
    backoff_max_s: float = Field(
        default=3600.0, gt=0, description="The longest wait between tries."
    )
    per_gateway_concurrency: int = Field(
        default=4,
        ge=1,
        le=100,
        description="POSTs in flight to one gateway at most: a slow endpoint holds only its "
        "own slots.",
    )
    max_concurrency: int = Field(
        default=64, ge=1, le=1000, description="POSTs in flight to all gateways together at most."
    )
    poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="How often MongoDB is asked for due deliveries: retries, deliveries "
        "another instance stored, redelivered dead letters. Deliveries this instance stores "
        "are posted at once.",
    )
    keep_delivered_s: float = Field(
        default=86_400.0,
        ge=0,
        description="How long a delivered delivery is remembered (without its body), so that "
        "Kafka delivering its event again stores nothing new.",
    )
