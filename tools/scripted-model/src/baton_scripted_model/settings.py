"""How the scripted model is run, read from the environment (``SCRIPTED_MODEL_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ScriptedModelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCRIPTED_MODEL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8010, ge=0, le=65535)
    script: Path | None = Field(
        default=None, description="YAML or JSON file of rules loaded at startup."
    )
    latency_ms: int = Field(default=0, ge=0, description="Added to every answer.")
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

    @field_validator("models", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value
