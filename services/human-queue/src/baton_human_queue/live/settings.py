"""Settings of the live console (``HUMAN_QUEUE_LIVE_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LiveSettings(BaseSettings):
    """The live console's streams (``HUMAN_QUEUE_LIVE_*``): how changes are found, how long a
    stream ticket lives, and how many streams and waiting hints an instance holds."""

    model_config = SettingsConfigDict(env_prefix="HUMAN_QUEUE_LIVE_", extra="ignore")

    poll_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often each instance reads the tickets changed since its last read: "
        "the longest a change waits before it is pushed.",
    )
    overlap_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How far each read goes back before the newest change seen, for writes "
        "stored out of order or stamped by a slightly slow clock of another instance.",
    )
    batch: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        description="Most ticket changes one read takes; more at once make every stream resync.",
    )
    ticket_ttl_s: float = Field(
        default=30.0, gt=0, le=600, description="How long a stream ticket may wait to be used."
    )
    keepalive_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Idle time after which a stream sends a comment, so proxies keep it open.",
    )
    recheck_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How often a stream re-checks its agent (deactivated or token replaced: "
        "the stream ends) and compares the agent's open tickets for missed changes.",
    )
    max_stream_s: float = Field(
        default=3600.0,
        gt=0,
        description="Longest life of a stream; it then ends with `reconnect`.",
    )
    max_streams: int = Field(
        default=1000, ge=1, description="Most streams one instance serves at once."
    )
    max_streams_per_agent: int = Field(
        default=5, ge=1, description="Most streams one agent has open on one instance."
    )
    queue_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most hints waiting for a slow stream; one more replaces them with a resync.",
    )
    recheck_limit: int = Field(
        default=2000,
        ge=1,
        description="Most open tickets a re-check compares; an agent who sees more is not "
        "compared (the hints still flow).",
    )
