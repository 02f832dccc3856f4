from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from baton_router.policy import (
    DEFAULT_RULES,
    Classification,
    Decision,
    RoutedMessage,
    Rule,
    RuleSet,
    decide,
    out_of_hours,
    rate_limited,
)
from baton_router.settings import Settings

RULES = DEFAULT_RULES.rules


def message(
    text: str = "hello", *, tier: str | None = None, department: str | None = None
) -> RoutedMessage:
    return RoutedMessage(text=text, user_id="u1", department=department, user_tier=tier)


def test_owner_flag_wins_over_everything() -> None:
    decision = decide(
        owner="human",
        message=message("talk to a human"),
        rules=RULES,
        classifier=Classification(handler="ai", reason="easy", confidence=1),
        min_confidence=0.5,
    )
    assert (decision.handler, decision.strategy) == ("human", "owner_flag")
    assert not decision.escalates


@pytest.mark.parametrize(
    ("text", "tier", "rule"),
    [
        ("Can I TALK TO A HUMAN please", None, "asks-for-human"),
        ("my lawyer will hear about this", None, "legal-threat"),
        ("I will sue you", None, "legal-threat"),
        ("where is my parcel", "VIP", "vip-tier"),
    ],
)
def test_default_rules(text: str, tier: str | None, rule: str) -> None:
    decision = decide(
        owner="ai",
        message=message(text, tier=tier),
        rules=RULES,
        classifier=None,
        min_confidence=0.5,
    )
    assert (decision.handler, decision.strategy) == ("human", "rule")
    assert decision.reason.startswith(f"{rule}:")
    assert decision.escalates


def test_words_inside_other_words_do_not_trigger_the_legal_rule() -> None:
    decision = decide(
        owner="ai",
        message=message("my suede shoes"),
        rules=RULES,
        classifier=None,
        min_confidence=0.5,
    )
    assert decision.strategy == "default"


def test_rule_conditions_all_apply() -> None:
    rule = Rule(name="billing-dispute", pattern=r"(?i)chargeback", departments=("billing",))
    assert rule.matches(message("a chargeback", department="Billing"))
    assert not rule.matches(message("a chargeback", department="sales"))
    assert not rule.matches(message("hello", department="billing"))
    assert not Rule(name="empty").matches(message("anything"))


def test_invalid_pattern_is_refused_when_loading() -> None:
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        Rule(name="bad", pattern="(unclosed")


def test_classifier_decides_when_confident() -> None:
    decision = decide(
        owner="ai",
        message=message("meh"),
        rules=RULES,
        classifier=Classification(handler="human", reason="angry", confidence=0.8),
        min_confidence=0.6,
    )
    assert decision == Decision("human", "classifier", "angry", 0.8)


def test_unsure_classifier_leaves_the_default() -> None:
    decision = decide(
        owner="ai",
        message=message("meh"),
        rules=RULES,
        classifier=Classification(handler="human", reason="maybe", confidence=0.4),
        min_confidence=0.6,
    )
    assert (decision.handler, decision.strategy) == ("ai", "default")
    assert "unsure" in decision.reason


def test_classifier_failure_falls_back_and_says_so() -> None:
    decision = decide(
        owner="ai", message=message("meh"), rules=RULES, classifier="timeout", min_confidence=0.6
    )
    assert (decision.handler, decision.strategy) == ("ai", "default")
    assert decision.reason == "classifier failed, default applies: timeout"


def test_an_escalation_past_a_limit_leaves_the_ai_on_the_thread_and_says_why() -> None:
    escalation = Decision("human", "rule", "asks-for-human: x")
    limited = rate_limited(escalation, "2 for this user in 60 min")
    assert (limited.handler, limited.strategy) == ("ai", "rate_limited")
    assert limited.reason == (
        "escalation limit reached: 2 for this user in 60 min; "
        "would have escalated because asks-for-human: x"
    )
    assert not limited.escalates


def test_rules_load_from_a_file_or_the_environment(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "rules.yaml"  # type: ignore[operator]
    path.write_text("rules:\n  - name: refunds\n    phrases: [refund]\n    reason: money\n")
    assert Settings(rules_file=path).rule_set() == RuleSet(
        rules=(Rule(name="refunds", phrases=("refund",), reason="money"),)
    )
    inline = json.dumps({"rules": [{"name": "x", "user_tiers": ["gold"], "handler": "human"}]})
    assert Settings(rules=inline, rules_file=path).rule_set().rules[0].name == "x"
    assert Settings().rule_set() == DEFAULT_RULES


def test_out_of_hours_the_ai_keeps_what_rules_or_the_classifier_would_escalate() -> None:
    back = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    legal = decide(
        owner="ai",
        message=message("I'll call my lawyer"),
        rules=RULES,
        classifier=None,
        min_confidence=0.5,
    )
    kept = out_of_hours(legal, back_at=back)
    assert (kept.handler, kept.strategy, kept.escalates) == ("ai", "out_of_hours", False)
    assert kept.reason.startswith("people are away until 2026-03-02T09:00+00:00")
    assert "legal action" in kept.reason

    classified = decide(
        owner="ai",
        message=message("my parcel is lost"),
        rules=RULES,
        classifier=Classification(handler="human", reason="a lost parcel", confidence=0.9),
        min_confidence=0.5,
    )
    assert out_of_hours(classified, back_at=back).strategy == "out_of_hours"


def test_out_of_hours_a_user_who_asks_for_a_person_and_an_owned_thread_wait_for_people() -> None:
    back = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    asked = decide(
        owner="ai",
        message=message("Let me talk to a human"),
        rules=RULES,
        classifier=None,
        min_confidence=0.5,
    )
    assert asked.explicit
    assert out_of_hours(asked, back_at=back) == asked
    owned = decide(
        owner="human", message=message("hi"), rules=RULES, classifier=None, min_confidence=0.5
    )
    assert out_of_hours(owned, back_at=back) == owned
    plain = decide(
        owner="ai", message=message("hi"), rules=RULES, classifier=None, min_confidence=0.5
    )
    assert out_of_hours(plain, back_at=back) == plain
    # A rule of one's own can be an explicit request too.
    rule = Rule(name="callback", phrases=("call me back",), explicit_request=True)
    explicit = decide(
        owner="ai",
        message=message("please call me back"),
        rules=[rule],
        classifier=None,
        min_confidence=0.5,
    )
    assert out_of_hours(explicit, back_at=back).handler == "human"
