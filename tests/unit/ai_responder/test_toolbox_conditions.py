"""Approval conditions: what they accept, what they decide, and that they are never code."""

from __future__ import annotations

from typing import Any

import pytest

from baton_ai_responder.toolbox import Approval, ConditionError, parse_condition

ARGUMENTS: dict[str, Any] = {
    "amount": 80,
    "currency": "EUR",
    "action": "refund",
    "urgent": True,
    "note": None,
    "customer": {"tier": "vip", "years": 3},
}


@pytest.mark.parametrize(
    ("text", "met"),
    [
        ("amount > 50", True),
        ("amount <= 80", True),
        ("amount < 80", False),
        ("amount >= 80.5", False),
        ("amount != 80", False),
        ("amount > -1e3", True),
        ("currency == 'EUR'", True),
        ('currency == "USD"', False),
        ("currency < 'F'", True),
        ("action in [refund, cancel]", True),
        ("action not in [refund, cancel]", False),
        ("action in ['re fund', 2, null]", False),
        ("amount in [10, 80]", True),
        ("customer.tier == 'vip'", True),
        ("customer.years >= 3 and customer.tier in [vip]", True),
        ("urgent", True),
        ("not urgent", False),
        ("urgent == false or amount > 100", False),
        ('not (amount > 50 and currency == "EUR")', False),
        ("note == null", True),
        ("note != null", False),
        ("amount > 100 or (currency == 'EUR' and not (action == 'cancel'))", True),
        ("action != 'refund' or amount>1", True),
    ],
)
def test_conditions_decide(text: str, met: bool) -> None:
    condition = parse_condition(text)
    assert condition.check(ARGUMENTS) == (met, None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("refund_id == 3", "no argument refund_id"),
        ("customer.country == FR", "no argument customer.country"),
        ("amount.value > 1", "no argument amount.value"),
        ("currency > 5", "cannot order string and number"),
        ("amount == '80'", "cannot compare number with string"),
        ("urgent == 1", "cannot compare boolean with number"),
        ("amount in [refund, cancel]", "not among"),
        ("customer == 'vip'", "cannot compare other"),
        # Outside a list a bare word is an argument, never a string.
        ("currency == EUR", "no argument EUR"),
        # A path looks into the arguments only: no attributes, no code.
        ("amount.__class__ > 1", "no argument amount.__class__"),
        ("currency", "string is not true or false"),
        # Every part is evaluated: a part that cannot be makes the call need approval.
        ("amount > 1000 and refund_id == 3", "no argument refund_id"),
        ("amount > 10 or missing", "no argument missing"),
    ],
)
def test_what_cannot_be_evaluated_needs_approval(text: str, problem: str) -> None:
    met, why = parse_condition(text).check(ARGUMENTS)
    assert met
    assert why is not None
    assert problem in why


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "amount > 50; import os",
        "lambda: 1",
        "amount + 1 > 2",
        "amount >",
        "> 50",
        "amount > 50 and",
        "(amount > 50",
        "amount > 50)",
        "action in refund",
        "action not == refund",
        "action in [refund, [cancel]]",
        "50",
        "'yes'",
        "",
        "   ",
        "amount > 50 amount",
        "not " * 40 + "urgent",
        "(" * 40 + "urgent" + ")" * 40,
        "a" * 1001,
    ],
)
def test_what_is_not_in_the_grammar_does_not_parse(text: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(text)


def test_an_error_says_where() -> None:
    with pytest.raises(ConditionError, match=r"found '\(' at position 11"):
        parse_condition("__import__('os')")


def test_paths_are_the_arguments_it_reads() -> None:
    condition = parse_condition("amount > 5 and customer.tier in [vip] or amount < 1")
    assert condition.paths == ("amount", "customer.tier")


def test_approval_reasons() -> None:
    arguments = {"amount": 20}
    assert Approval.parse("never").reason(arguments) is None
    assert Approval.parse(False).reason(arguments) is None
    assert Approval.parse("always").reason(arguments) == "always"
    assert Approval.parse(True).reason(arguments) == "always"
    assert Approval.parse("amount > 50").reason(arguments) is None
    assert Approval.parse("amount > 50").reason({"amount": 51}) == "amount > 50"
    assert Approval.parse("  amount > 50 ").reason({}) == (
        "amount > 50 (could not be checked: no argument amount)"
    )
    assert str(Approval.parse("amount>50")) == "amount>50"
    assert str(Approval()) == "never"
