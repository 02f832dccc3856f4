"""How the scripted model is run, read from the environment (``SCRIPTED_MODEL_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ScriptedModelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCRIPTED_MODEL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8010, ge=0, le=65535)
    script: Path | None = Field(
        default=None, description="YAML or JSON file of rules loaded at startup."
    )
    latency_ms: int = Field(default=0, ge=0, description="Added to every answer.")
    latency_median_ms: float | None = Field(
        default=None,
        gt=0,
        description="Median of a lognormal latency drawn for every answer, on top of "
        "latency_ms; set together with latency_p99_ms.",
    )
    latency_p99_ms: float | None = Field(
        default=None, gt=0, description="p99 of the lognormal latency; at least its median."
    )
    latency_seed: int | None = Field(
        default=None,
        description="Seed of the drawn latencies: the same sequence at every start. "
        "Unset: a different one each time.",
    )
    stream_tokens_per_s: float = Field(
        default=0,
        ge=0,
        description="Pace of streamed answers (`stream: true`): tokens (four characters of "
        "the answer) per second, the first right after the call's latency. 0: every chunk "
        "at once.",
    )
    models: Annotated[list[str], NoDecode] = Field(
        default=["baton-scripted-model", "gpt-4o-mini"],
        description="Model names GET /v1/models lists (comma-separated); any name is accepted.",
    )
    timeout_seconds: float = Field(
        default=3600,
        gt=0,
        description="How long a `timeout: true` rule holds a request before giving up.",
    )
    call_log_size: int = Field(default=500, ge=1, description="Requests GET /_calls remembers.")

    @model_validator(mode="after")
    def _whole_distribution(self) -> ScriptedModelSettings:
        median, p99 = self.latency_median_ms, self.latency_p99_ms
        if (median is None) != (p99 is None):
            raise ValueError("set latency_median_ms and latency_p99_ms together, or neither")
        if median is not None and p99 is not None and p99 < median:
            raise ValueError(f"latency_p99_ms ({p99}) is below latency_median_ms ({median})")
        return self

    @field_validator("models", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value
