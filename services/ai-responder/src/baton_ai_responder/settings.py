from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from baton_conversations import EscalationSettings
from baton_runtime import KafkaSettings, MongoSettings

DEFAULT_SYSTEM_PROMPT = (
    "You are Baton, the customer support assistant of the shop. Answer briefly and kindly. "
    "If you need a fact only a person on the team has (an order's state, an exception to a "
    "policy), call ask_human with a precise question. If the customer must be handled by a "
    "person, call escalate. Otherwise answer with your reply, your confidence between 0 and "
    "1, and requires_human=true when a person should take over."
)


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """AI responder settings (``AI_RESPONDER_*``; the model endpoint from ``OPENAI_*``)."""

    model_config = SettingsConfigDict(env_prefix="AI_RESPONDER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8003
    model: str = "gpt-4o-mini"
    agent_name: str = Field(default="Baton AI", description="Name the AI signs messages with.")
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    history_window: int = Field(default=20, ge=1, le=200, description="Messages of context.")
    max_steps: int = Field(default=3, ge=1, le=10, description="Model calls per turn at most.")
    confidence_threshold: float = Field(default=0.7, ge=0, le=1)
    review_token_threshold: int = Field(
        default=0,
        ge=0,
        description="Replies whose call used more total tokens go through approval; 0 = off.",
    )
    # None by default: a phrase list is each deployment's own, and with one set no reply
    # streams (decision 19).
    approval_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated phrases, e.g. `refund,chargeback,legal`; a reply about "
        "any of them needs a human's approval, and no reply streams (decision 19).",
    )
    stream: bool = Field(
        default=True,
        description="Stream replies to the user as they are written (`message.delta`). Only "
        "replies nothing judged on their whole text can hold back stream (decision 19): with "
        "approval topics or a token limit set, every reply goes out whole.",
    )
    stream_interval_ms: int = Field(
        default=200,
        ge=0,
        le=5000,
        description="A streamed reply's first piece goes out at once; later pieces are "
        "gathered into one `message.delta` per interval, so a reply is a few records.",
    )
    stream_max_chars: int = Field(
        default=1000,
        ge=1,
        le=16_000,
        description="A delta goes out before its interval is over once this many characters "
        "wait; none is longer.",
    )
    rejection_fallback: Literal["regenerate", "human"] = "regenerate"
    tools_file: Path | None = Field(
        default=None,
        description="YAML or JSON file of the tools the AI may call: HTTP endpoints and MCP "
        "servers, each with its departments and when a call needs a person's approval "
        "(docs/tools.md). Unset: only `current_time`.",
    )
    summaries: bool = Field(
        default=True,
        description="Summarise each new conversation, escalation, question and action ticket for "
        "the agent (`ticket.opened` → `ticket.summarized`), with the model settings below.",
    )
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    llm_backoff_s: float = Field(default=0.5, ge=0)
    llm_max_concurrent: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="Model calls in flight at once in this process; more wait for a slot.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AI_RESPONDER_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("AI_RESPONDER_OPENAI_API_KEY", "OPENAI_API_KEY"),
    )
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)

    @field_validator("approval_topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        return _comma_list(value)
