from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from baton_conversations import BusinessHoursSettings, EscalationSettings
from baton_runtime import KafkaSettings, MongoSettings

from .policy import DEFAULT_RULES, RuleSet


class Settings(BaseSettings):
    """Router settings (``ROUTER_*``; Kafka, MongoDB and OpenAI from their usual variables)."""

    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8002
    rules_file: Path | None = Field(
        default=None, description="YAML or JSON file with a `rules:` list; replaces the defaults."
    )
    rules: str | None = Field(
        default=None, description="The same rules as inline JSON; wins over `rules_file`."
    )
    classifier_enabled: bool = False
    classifier_model: str = "gpt-4o-mini"
    classifier_min_confidence: float = Field(default=0.6, ge=0, le=1)
    classifier_timeout_s: float = Field(default=10.0, gt=0)
    classifier_max_concurrent: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="Classifier calls in flight at once in this process; more wait for a slot.",
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ROUTER_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ROUTER_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    business_hours: BusinessHoursSettings = Field(
        default_factory=BusinessHoursSettings,
        description="Departments' hours: out of them, a department whose `out_of_hours` is "
        "`ai` keeps with the AI what would go to people.",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)

    def rule_set(self) -> RuleSet:
        if self.rules:
            return RuleSet.model_validate(json.loads(self.rules))
        if self.rules_file:
            return RuleSet.model_validate(yaml.safe_load(self.rules_file.read_text()))
        return DEFAULT_RULES
