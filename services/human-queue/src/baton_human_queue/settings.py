from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from baton_contracts import MAX_TEXT_LENGTH, SlaKind
from baton_conversations import BusinessHoursSettings
from baton_runtime import HttpSettings, KafkaSettings, MongoSettings

from .domain import DEFAULT_SLA_S, PriorityRules, QuestionTimeout
from .live.settings import LiveSettings
from .notices import NoticeRules, load_rules
from .staffing import Policy, StaffingRules

PLACEHOLDER_ADMIN_TOKEN = "change-me-admin-token"  # noqa: S105 - the value we refuse
MIN_ADMIN_TOKEN_LENGTH = 16


class Settings(BaseSettings):
    """Human-queue settings (``HUMAN_QUEUE_*``; Kafka, MongoDB and the HTTP side from
    ``KAFKA_*``, ``MONGODB_*`` and ``HTTP_*``).

    ``sla_s``, ``priority`` and ``question_timeout`` are JSON in the environment, e.g.
    ``HUMAN_QUEUE_SLA_S='{"0": 3600, "50": 300}'``,
    ``HUMAN_QUEUE_PRIORITY='{"by_tier": {"vip": 100}}'`` and
    ``HUMAN_QUEUE_QUESTION_TIMEOUT='{"after_s": 900, "fallback": "ai", "by_department":
    {"billing": {"after_s": 300, "fallback": "human"}}}'``; ``action_timeout`` has the same
    shape (``HUMAN_QUEUE_ACTION_TIMEOUT``).
    """

    model_config = SettingsConfigDict(env_prefix="HUMAN_QUEUE_", extra="ignore")

    env: Literal["dev", "test", "prod"] = Field(
        default="prod", description="`dev` allows the placeholder admin token."
    )
    host: str = "127.0.0.1"
    port: int = 8004
    admin_token: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_ADMIN_TOKEN),
        description="Bearer token of the admin endpoints (creating agents, exports).",
    )
    lease_s: float = Field(
        default=600.0, gt=0, description="How long a claim lasts without the holder's activity."
    )
    sweep_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often expired leases, SLA breaches and unfinished follow-ups of "
        "ticket changes are swept.",
    )
    outbox_grace_s: float = Field(
        default=5.0,
        ge=0,
        description="Age at which the sweep carries out what a ticket change left undone "
        "(events, the reply, the thread's owner).",
    )
    sla_s: dict[int, float] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_S),
        description="Seconds until a person must respond, by minimum priority: a ticket gets "
        "the entry with the highest key not above its priority. Business time where the "
        "department has business hours.",
    )
    next_response_sla_s: dict[int, float] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_S),
        description="Seconds until people must answer a user who wrote again after they "
        "answered, by minimum priority like `sla_s`; `{}`: no next-response SLA.",
    )
    resolution_sla_s: dict[int, float] = Field(
        default_factory=dict,
        description="Seconds until a ticket must be resolved, by minimum priority like "
        "`sla_s`; `{}`: no resolution SLA.",
    )
    sla_priority_step: dict[SlaKind, int] = Field(
        default_factory=dict,
        description="How much a breach raises the ticket's priority, by SLA, e.g. "
        '`{"first_response": 10, "next_response": 10, "resolution": 20}`; not named: 0.',
    )
    notices_file: Path | None = Field(
        default=None,
        description="YAML or JSON file of the notices to users: which are on per department "
        "and locale, and their words (over the built-in ones); see "
        "[human-queue.md](human-queue.md#notices-to-the-user).",
    )
    notices: str | None = Field(
        default=None,
        description="The same as inline JSON; wins over `HUMAN_QUEUE_NOTICES_FILE`.",
    )
    business_hours: BusinessHoursSettings = Field(
        default_factory=BusinessHoursSettings,
        description="Departments' hours: SLA clocks count open hours only, and the hand-off "
        "notice says when people are back.",
    )
    priority: PriorityRules = Field(
        default_factory=PriorityRules, description="How a ticket's priority is computed."
    )
    question_timeout: QuestionTimeout = Field(
        default_factory=QuestionTimeout,
        description="How long the AI's question to a person waits for an answer "
        "(`after_s`, null: no limit) before the sweep closes it, and what the AI does then "
        "(`fallback`: `ai` answers without it, `human` hands the conversation to people); "
        'a department may have its own: `"by_department": {"billing": {"after_s": 300, '
        '"fallback": "human"}}`.',
    )
    action_timeout: QuestionTimeout = Field(
        default_factory=QuestionTimeout,
        description="How long a tool call the AI proposes waits for a person's approval "
        "(`after_s`, null: no limit) before the sweep closes its action ticket, and what the "
        "AI does then (`fallback`: `ai` takes the call as denied, with reason `expired`; "
        "`human` hands the conversation to people); per department like `question_timeout`.",
    )
    max_text_length: int = Field(default=4000, ge=1, le=MAX_TEXT_LENGTH)
    max_note_length: int = Field(
        default=4000,
        ge=1,
        le=MAX_TEXT_LENGTH,
        description="Characters of an internal note on a ticket.",
    )
    context_messages: int = Field(
        default=20, ge=1, le=200, description="Thread messages shown with a ticket."
    )
    default_capacity: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="The most tickets an agent holds at once, unless the agent has its own.",
    )
    away_after_s: float = Field(
        default=300.0,
        gt=0,
        description="Silence (no API request) after which an online agent becomes away.",
    )
    failover_after_s: float = Field(
        default=120.0,
        gt=0,
        description="In an auto-assigned department, how long a ticket may sit untouched with "
        "an agent who is away or offline before it moves to the next agent.",
    )
    assignment: dict[str, Policy] = Field(
        default_factory=dict,
        description="Assignment policy by department (`manual`, `round_robin`, `least_busy`), "
        'e.g. `{"billing": "least_busy"}`; one set through the admin API overrides it. '
        "Departments not named: `manual`.",
    )
    takeover_by_agents: bool = Field(
        default=False,
        description="Whether agents (not only supervisors) may take a conversation of their "
        "departments over from the AI.",
    )
    live: LiveSettings = Field(default_factory=LiveSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @property
    def staffing(self) -> StaffingRules:
        return StaffingRules(
            default_capacity=self.default_capacity,
            away_after_s=self.away_after_s,
            failover_after_s=self.failover_after_s,
            policies=dict(self.assignment),
        )

    @field_validator("sla_s")
    @classmethod
    def _sla_usable(cls, value: dict[int, float]) -> dict[int, float]:
        if not value:
            raise ValueError("needs at least one entry, e.g. {0: 3600}")
        if any(seconds <= 0 for seconds in value.values()):
            raise ValueError("every SLA must be a positive number of seconds")
        return value

    @field_validator("next_response_sla_s", "resolution_sla_s")
    @classmethod
    def _optional_sla_usable(cls, value: dict[int, float]) -> dict[int, float]:
        if any(seconds <= 0 for seconds in value.values()):
            raise ValueError("every SLA must be a positive number of seconds")
        return value

    @field_validator("sla_priority_step")
    @classmethod
    def _steps_usable(cls, value: dict[SlaKind, int]) -> dict[SlaKind, int]:
        if any(step < 0 for step in value.values()):
            raise ValueError("a breach raises the priority, never lowers it: steps are >= 0")
        return value

    @model_validator(mode="after")
    def _notices_readable(self) -> Settings:
        self.notice_rules()  # a template's typo stops the queue at start-up
        return self

    def notice_rules(self) -> NoticeRules:
        return load_rules(self.notices, self.notices_file)

    @model_validator(mode="after")
    def _real_admin_token(self) -> Settings:
        if self.env == "dev":
            return self
        token = self.admin_token.get_secret_value()
        if token == PLACEHOLDER_ADMIN_TOKEN:
            raise ValueError(
                "HUMAN_QUEUE_ADMIN_TOKEN is the placeholder; set a secret of your own "
                "(or HUMAN_QUEUE_ENV=dev on a development machine)"
            )
        if len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"HUMAN_QUEUE_ADMIN_TOKEN must have at least {MIN_ADMIN_TOKEN_LENGTH} characters"
            )
        return self
