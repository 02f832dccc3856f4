"""Routing decisions, free of I/O: who answers a user message, and why.

Strategies apply in a fixed order, first match wins:

1. ``owner_flag``: a thread a human owns stays with humans, whatever the message says.
2. ``rule``: configured rules (phrases, patterns, user tier, department).
3. ``classifier``: an optional LLM classifier's ``{handler, reason, confidence}``.
4. ``default``: the AI answers.

An escalation that would exceed the per-user or per-thread limit (the conversation core's
escalation budget) is overridden: the AI keeps the conversation (strategy ``rate_limited``)
and the reason says which limit.

Out of business hours, a department whose fallback is ``ai`` keeps with the AI what rules or
the classifier would give to people (strategy ``out_of_hours``): not a thread people own,
and not a user's explicit request for a person (a rule with ``explicit_request``), which
waits for people, who are told when they are back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from baton_contracts import Handler, RouteStrategy

HUMAN_PHRASES = (
    "talk to a human",
    "speak to a human",
    "talk to a person",
    "speak to a person",
    "real person",
    "human agent",
    "talk to an agent",
    "speak to an agent",
    "customer service representative",
)


class Rule(BaseModel):
    """One routing rule. All conditions given must hold; an empty rule never matches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    handler: Handler = "human"
    phrases: tuple[str, ...] = Field(
        default=(), description="Matches when the message contains any phrase (any case)."
    )
    pattern: str | None = Field(
        default=None, description="A regular expression searched in the message."
    )
    user_tiers: tuple[str, ...] = Field(default=(), description="Matches these user tiers.")
    departments: tuple[str, ...] = Field(default=(), description="Matches these departments.")
    reason: str | None = Field(default=None, description="Reason given in the decision.")
    explicit_request: bool = Field(
        default=False,
        description="The rule matches a user's explicit request for a person: honoured out "
        "of business hours too (the conversation waits for people).",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"pattern {value!r} is not a valid regular expression: {exc}"
                ) from None
        return value

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None

    def matches(self, message: RoutedMessage) -> bool:
        if not (self.phrases or self._regex or self.user_tiers or self.departments):
            return False
        text = message.text.casefold()
        if self.phrases and not any(p.casefold() in text for p in self.phrases):
            return False
        if self._regex is not None and not self._regex.search(message.text):
            return False
        if self.user_tiers and (message.user_tier or "").casefold() not in {
            t.casefold() for t in self.user_tiers
        }:
            return False
        return not (
            self.departments
            and (message.department or "").casefold()
            not in {d.casefold() for d in self.departments}
        )

    def describe(self) -> str:
        return self.reason or f"rule {self.name!r} matched"


class RuleSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = ()


DEFAULT_RULES = RuleSet(
    rules=(
        Rule(
            name="asks-for-human",
            phrases=HUMAN_PHRASES,
            reason="the user asked for a person",
            explicit_request=True,
        ),
        Rule(
            name="legal-threat",
            pattern=r"(?i)\b(lawyer|attorney|lawsuit|sue|legal action|court)\b",
            reason="the message mentions legal action",
        ),
        Rule(name="vip-tier", user_tiers=("vip",), reason="VIP customers are served by people"),
    )
)


@dataclass(frozen=True)
class RoutedMessage:
    text: str
    user_id: str | None
    department: str | None
    user_tier: str | None


class Classification(BaseModel):
    """The LLM classifier's structured output."""

    model_config = ConfigDict(extra="ignore")

    handler: Handler
    reason: str = Field(max_length=1000)
    confidence: float = Field(ge=0, le=1)


ESCALATING_STRATEGIES: tuple[RouteStrategy, ...] = ("rule", "classifier")
"""The strategies whose routes to people are new escalations (not an owned thread, not a
rate limit)."""


@dataclass(frozen=True)
class Decision:
    handler: Handler
    strategy: RouteStrategy
    reason: str
    confidence: float | None = None
    explicit: bool = False
    """The user asked for a person in so many words (a rule with ``explicit_request``)."""

    @property
    def escalates(self) -> bool:
        """True for a new escalation (counted for rate limiting), not for an owned thread."""
        return self.handler == "human" and self.strategy in ESCALATING_STRATEGIES


ClassifierOutcome = Classification | str | None
"""A classification, an error description (the classifier failed), or None (not asked)."""


def first_matching_rule(rules: Sequence[Rule], message: RoutedMessage) -> Rule | None:
    return next((rule for rule in rules if rule.matches(message)), None)


def decide(
    *,
    owner: Literal["ai", "human"],
    message: RoutedMessage,
    rules: Sequence[Rule],
    classifier: ClassifierOutcome,
    min_confidence: float,
) -> Decision:
    """Who answers ``message``, before rate limiting (see :func:`rate_limited`)."""
    if owner == "human":
        return Decision("human", "owner_flag", "a human owns this thread")
    rule = first_matching_rule(rules, message)
    if rule is not None:
        return Decision(
            rule.handler,
            "rule",
            f"{rule.name}: {rule.describe()}",
            explicit=rule.explicit_request and rule.handler == "human",
        )
    if isinstance(classifier, Classification):
        if classifier.confidence >= min_confidence:
            return Decision(
                classifier.handler, "classifier", classifier.reason, classifier.confidence
            )
        return Decision(
            "ai",
            "default",
            f"classifier unsure ({classifier.confidence:.2f} < {min_confidence:.2f}): "
            f"{classifier.reason}",
            classifier.confidence,
        )
    if isinstance(classifier, str):
        return Decision("ai", "default", f"classifier failed, default applies: {classifier}")
    return Decision("ai", "default", "no rule matched")


def rate_limited(decision: Decision, limit: str) -> Decision:
    """The AI keeps the conversation: this escalation would pass ``limit`` (which one, in a
    few words, e.g. "5 for this user in 60 min")."""
    return Decision(
        "ai",
        "rate_limited",
        f"escalation limit reached: {limit}; would have escalated because {decision.reason}",
    )


def out_of_hours(decision: Decision, *, back_at: datetime) -> Decision:
    """Whether the AI keeps ``decision``'s conversation while people are away until
    ``back_at`` (the department's fallback is ``ai``): a new escalation does, unless the user
    asked for a person in so many words; a thread people own stays theirs."""
    if not decision.escalates or decision.explicit:
        return decision
    return Decision(
        "ai",
        "out_of_hours",
        f"people are away until {back_at.isoformat(timespec='minutes')}; would have escalated "
        f"because {decision.reason}",
    )
