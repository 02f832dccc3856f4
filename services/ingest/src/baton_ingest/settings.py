from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from baton_contracts import MAX_TEXT_LENGTH
from baton_runtime import HttpSettings, KafkaSettings, MongoSettings

from .live.settings import LiveSettings
from .webhooks.settings import WebhookSettings

PLACEHOLDER_ADMIN_TOKEN = "change-me-admin-token"  # noqa: S105 - the value we refuse
MIN_ADMIN_TOKEN_LENGTH = 16


class Settings(BaseSettings):
    """Ingest settings (``INGEST_*``; Kafka, MongoDB and the HTTP side from ``KAFKA_*``,
    ``MONGODB_*`` and ``HTTP_*``)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field(
        default="prod", description="`dev` allows the placeholder admin token."
    )
    host: str = "127.0.0.1"
    port: int = 8001
    admin_token: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_ADMIN_TOKEN),
        description="Bearer token of the admin endpoints (`/v1/admin/gateways`).",
    )
    max_text_length: int = Field(default=4000, ge=1, le=MAX_TEXT_LENGTH)
    rate_limit_key_rps: float = Field(
        default=100.0,
        gt=0,
        description="Requests per second a gateway key may make, on average, to this ingest "
        "instance (each instance counts its own).",
    )
    rate_limit_key_burst: int = Field(
        default=200, ge=1, description="Requests a gateway key may make at once, after a pause."
    )
    rate_limit_user_rps: float = Field(
        default=5.0,
        gt=0,
        description="Requests per second a gateway may make for one end user (a thread's "
        "user), on average, to this ingest instance.",
    )
    rate_limit_user_burst: int = Field(
        default=20, ge=1, description="Requests a gateway may make at once for one end user."
    )
    rate_limit_tracked: int = Field(
        default=100_000,
        ge=1,
        description="Rate-limit buckets kept in memory at most; the least recently used go "
        "first (a bucket gone is a full one).",
    )
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
    rating_text_window_s: float = Field(
        default=3600.0,
        ge=0,
        description="How long after a person resolved a conversation a reply of a lone digit "
        "1 to 5, the user's first message since, is taken as their rating of it (stored, "
        "answered by nobody). 0: ratings come only through the rating route.",
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings,
        description="How events are posted to the gateways' webhooks.",
    )
    live: LiveSettings = Field(
        default_factory=LiveSettings,
        description="The thread streams (`GET /v1/threads/{thread_id}/stream`).",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="after")
    def _real_admin_token(self) -> Settings:
        if self.env == "dev":
            return self
        token = self.admin_token.get_secret_value()
        if token == PLACEHOLDER_ADMIN_TOKEN:
            raise ValueError(
                "INGEST_ADMIN_TOKEN is the placeholder; set a secret of your own "
                "(or INGEST_ENV=dev on a development machine)"
            )
        if len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"INGEST_ADMIN_TOKEN must have at least {MIN_ADMIN_TOKEN_LENGTH} characters"
            )
        return self
