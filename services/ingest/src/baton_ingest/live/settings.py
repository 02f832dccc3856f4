"""Settings of the thread streams (``INGEST_LIVE_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LiveSettings(BaseSettings):
    """The thread streams (``GET /v1/threads/{id}/stream``, ``INGEST_LIVE_*``): how many one
    instance serves, and what a slow reader may cost."""

    model_config = SettingsConfigDict(env_prefix="INGEST_LIVE_", extra="ignore")

    keepalive_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Idle time after which a stream sends a comment, so proxies keep it open.",
    )
    max_stream_s: float = Field(
        default=3600.0,
        gt=0,
        description="Longest life of a stream; it then ends and the client opens a new one "
        "(its key checked again).",
    )
    max_streams: int = Field(
        default=2000, ge=1, description="Most streams one instance serves at once."
    )
    max_streams_per_thread: int = Field(
        default=10, ge=1, description="Most streams of one thread on one instance."
    )
    buffer_bytes: int = Field(
        default=256 * 1024,
        ge=16 * 1024,
        le=64 * 1024 * 1024,
        description="Most bytes of events waiting for a slow stream. Over it, waiting deltas "
        "are dropped (the whole message follows them); a message that still does not fit "
        "ends the stream, and the client reads the thread's messages when it reconnects.",
    )
