"""Connection settings shared by every service, read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(BaseSettings):
    """How to reach Kafka (``KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list."
    )
    security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    sasl_mechanism: KafkaSaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_file: Path | None = Field(
        default=None, description="CA bundle for TLS; the system store when unset."
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Put in front of every topic and consumer group name, "
        "so several deployments can share one cluster.",
    )

    create_topics: bool = Field(
        default=True,
        description="Create missing topics at start-up (off where topics are managed).",
    )
    topic_partitions: int = Field(default=3, ge=1)
    consumer_max_in_flight: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most records one consumer has taken from Kafka and not finished. "
        "Records of one thread are handled in order, those of different threads at the "
        "same time; when this many are in flight the consumer pauses its partitions until "
        "one finishes.",
    )
    consumer_poll_ms: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="How long one poll of an idle subscription waits; it returns as soon "
        "as records arrive.",
    )
    commit_interval_ms: int = Field(
        default=200,
        ge=0,
        le=60_000,
        description="How often a consumer commits its partitions' offsets, each just below "
        "its lowest unfinished record (also when partitions are revoked and when it "
        "stops). A crash redelivers the unfinished records and at most this long's "
        "finished ones, which are replays; 0 commits after every poll.",
    )
    topic_replication_factor: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism is None:
                raise ValueError(f"KAFKA_SASL_MECHANISM is required with {self.security_protocol}")
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError(
                    "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with SASL"
                )
        return self

    def topic(self, name: str) -> str:
        """The deployed name of topic ``name``."""
        return f"{self.topic_prefix}{name}"

    def group(self, name: str) -> str:
        """The deployed name of consumer group ``name``."""
        return f"{self.topic_prefix}{name}"


class MongoSettings(BaseSettings):
    """How to reach MongoDB (``MONGODB_*``).

    The URL carries user, password, TLS and replica-set options in the usual
    ``mongodb://`` or ``mongodb+srv://`` form; it is a secret because it may hold a password.
    """

    model_config = SettingsConfigDict(env_prefix="MONGODB_", extra="ignore")

    url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    database: str = Field(default="baton", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    tls_ca_file: Path | None = Field(default=None, description="CA bundle for TLS connections.")
    server_selection_timeout_ms: int = Field(default=10_000, ge=100)
    socket_timeout_ms: int = Field(
        default=30_000,
        ge=0,
        description="How long a command may wait for the server's answer before it fails as a "
        "network error (which handlers retry); 0 waits for ever. Baton's commands take "
        "milliseconds, so a server that stays silent this long is treated as gone.",
    )


DEFAULT_MAX_BODY_BYTES = 256 * 1024
MIN_METRICS_TOKEN_LENGTH = 16


class HttpSettings(BaseSettings):
    """What every service's HTTP side shares (``HTTP_*``): the request size limit and who may
    read ``/metrics``. Each service reads them from its own environment, so a deployment
    can give each service its own metrics token or port."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body accepted, in bytes; a larger one is refused with "
        "413 before it is read whole (by its Content-Length, or as it streams in).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, `/metrics` answers only requests with "
        "`Authorization: Bearer <token>` (at least 16 characters).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65_535,
        description="When set, `/metrics` is served on this port only, not on the API's port.",
    )
    metrics_host: str | None = Field(
        default=None,
        description="Address the metrics port listens on; the service's own host when unset.",
    )

    @model_validator(mode="after")
    def _usable_token(self) -> HttpSettings:
        token = self.metrics_token
        if token is not None and len(token.get_secret_value()) < MIN_METRICS_TOKEN_LENGTH:
            raise ValueError(
                f"HTTP_METRICS_TOKEN must have at least {MIN_METRICS_TOKEN_LENGTH} characters"
            )
        return self


class TracingSettings(BaseSettings):
    """OpenTelemetry's own variables (``OTEL_*``), as Baton reads them: traces are exported
    over OTLP/HTTP (protobuf) when an endpoint is set, and nothing at all is set up without
    one ([operations.md](operations.md#traces)). The OpenTelemetry SDK reads these and its
    other standard variables (``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_HEADERS``, ...) itself.

    Example: ``OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318`` sends every service's spans
    to Jaeger's OTLP receiver (``/v1/traces`` is appended), each under its own service name
    (``baton-ingest``, ...), with ``OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=prod``
    on all of them."""

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore")

    exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="Base URL of an OTLP/HTTP receiver (a collector, Jaeger); setting it "
        "turns tracing on. Unset: no tracer, no instrumentation, no trace headers.",
    )
    exporter_otlp_traces_endpoint: str | None = Field(
        default=None,
        description="Full URL for traces only (with its `/v1/traces`); also turns tracing on.",
    )
    service_name: str | None = Field(
        default=None,
        description="The service's name in traces; the service's own (`baton-ingest`, "
        "`baton-router`, `baton-ai-responder`, `baton-human-queue`) when unset.",
    )
    resource_attributes: str | None = Field(
        default=None,
        description="More resource attributes, `key=value,key=value` "
        "(e.g. `deployment.environment.name=staging`).",
    )
    traces_sampler: str | None = Field(
        default=None,
        description="The SDK's sampler (`parentbased_always_on` when unset; e.g. "
        "`parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.1`). A trace is decided "
        "where it starts (an HTTP request, a record without a trace), and every hop follows.",
    )
    sdk_disabled: bool = Field(
        default=False, description="`true` turns tracing off even with an endpoint set."
    )

    @property
    def enabled(self) -> bool:
        return not self.sdk_disabled and bool(
            self.exporter_otlp_endpoint or self.exporter_otlp_traces_endpoint
        )
