"""The rule engine: each condition, first match wins, ``times``, placeholders, rule validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from baton_scripted_model import Conversation, Script, ScriptError, parse_rules
from baton_scripted_model.conversation import Failure, Stall, Text, ToolCalls

from .conftest import ASK_HUMAN_TOOL, REPLY_FORMAT, asked_then_answered, conversation, user


def script(*rules: dict[str, Any]) -> Script:
    return Script(parse_rules(list(rules)), new_call_id=lambda: "call_fixed")


def answer(rule_script: Script, chat: Conversation) -> tuple[str, str]:
    decision = rule_script.decide(chat)
    assert isinstance(decision.outcome, Text)
    return decision.rule, decision.outcome.content


def scripted(match: dict[str, Any], chat: Conversation) -> bool:
    """Whether a rule with these conditions answers ``chat``."""
    decision = script({"name": "r", "match": match, "respond": {"content": "hit"}}).decide(chat)
    return decision.rule == "r"


PLAIN = conversation(
    {"role": "system", "content": "You are the Acme support bot."},
    user("I want a REFUND now"),
)


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({}, True),
        ({"last_user": "(?i)refund"}, True),
        ({"last_user": "refund"}, False),
        ({"any_message": "Acme"}, True),
        ({"any_message": "Globex"}, False),
        ({"system": "support bot"}, True),
        ({"system": "REFUND"}, False),
        ({"has_tool_result": False}, True),
        ({"has_tool_result": True}, False),
        ({"tool_available": "ask_human"}, False),
        ({"schema": "assistant_reply"}, False),
        ({"last_user": "(?i)refund", "system": "Acme"}, True),
        ({"last_user": "(?i)refund", "system": "Globex"}, False),
    ],
)
def test_each_condition_on_a_plain_conversation(match: dict[str, Any], expected: bool) -> None:
    assert scripted(match, PLAIN) is expected


def test_last_user_looks_only_at_the_last_user_message() -> None:
    chat = conversation(user("refund please"), {"role": "assistant", "content": "ok"}, user("hi"))
    assert not scripted({"last_user": "refund"}, chat)
    assert scripted({"any_message": "refund"}, chat)


def test_schema_matches_the_requested_json_schema_name() -> None:
    chat = conversation(user("hello"), response_format=REPLY_FORMAT)
    assert scripted({"schema": "assistant_reply"}, chat)
    assert not scripted({"schema": "route_classification"}, chat)


def test_tool_available_matches_offered_tools_unless_tool_choice_is_none() -> None:
    assert scripted(
        {"tool_available": "ask_human"}, conversation(user("x"), tools=[ASK_HUMAN_TOOL])
    )
    assert not scripted(
        {"tool_available": "lookup"}, conversation(user("x"), tools=[ASK_HUMAN_TOOL])
    )
    hidden = conversation(user("x"), tools=[ASK_HUMAN_TOOL], tool_choice="none")
    assert not scripted({"tool_available": "ask_human"}, hidden)


def test_has_tool_result_means_the_last_message_is_a_tool_result() -> None:
    answered = conversation(*asked_then_answered("Is order 7 late?", "It ships today."))
    assert scripted({"has_tool_result": True}, answered)
    assert not scripted({"has_tool_result": False}, answered)
    later = conversation(*asked_then_answered("q", "a"), user("thanks"))
    assert not scripted({"has_tool_result": True}, later)


def test_first_matching_rule_wins_in_order() -> None:
    rules = script(
        {"name": "never", "match": {"last_user": "nothing-like-this"}, "respond": {"content": "0"}},
        {"name": "first", "match": {"last_user": "(?i)refund"}, "respond": {"content": "1"}},
        {"name": "second", "match": {}, "respond": {"content": "2"}},
    )
    assert answer(rules, PLAIN) == ("first", "1")


def test_times_retires_a_rule_after_that_many_answers() -> None:
    rules = script(
        {"name": "once", "times": 1, "respond": {"content": "first"}},
        {"name": "twice", "times": 2, "respond": {"content": "next"}},
    )
    answers = [answer(rules, PLAIN)[1] for _ in range(3)]
    assert answers == ["first", "next", "next"]
    assert rules.decide(PLAIN).rule.startswith("default:")
    assert [entry["used"] for entry in rules.describe()] == [1, 2]


def test_unnamed_rules_get_a_label() -> None:
    rules = script({"respond": {"content": "x"}})
    assert rules.decide(PLAIN).rule == "rule#1"


def test_placeholders_in_content() -> None:
    chat = conversation(*asked_then_answered("Is order 7 late?", "It ships today."))
    rules = script({"respond": {"content": "You asked '{last_user}'; {tool_result} {other}"}})
    assert answer(rules, chat)[1] == "You asked 'Is order 7 late?'; It ships today. {other}"


def test_placeholders_are_not_expanded_twice() -> None:
    chat = conversation(user("{tool_result}"))
    assert answer(script({"respond": {"content": "<{last_user}>"}}), chat)[1] == "<{tool_result}>"


def test_json_is_serialised_with_placeholders_in_nested_strings() -> None:
    chat = conversation(*asked_then_answered("When?", "Tuesday"))
    rules = script(
        {
            "respond": {
                "json": {
                    "reply": "On {tool_result}",
                    "confidence": 0.9,
                    "requires_human": False,
                    "notes": ["{last_user}", 3],
                }
            }
        }
    )
    assert json.loads(answer(rules, chat)[1]) == {
        "reply": "On Tuesday",
        "confidence": 0.9,
        "requires_human": False,
        "notes": ["When?", 3],
    }


def test_tool_calls_with_object_or_string_arguments_and_placeholders() -> None:
    rules = script(
        {
            "respond": {
                "tool_calls": [
                    {"name": "ask_human", "arguments": {"question": "Q: {last_user}"}},
                    {"name": "lookup", "arguments": '{"id": 7}', "id": "call_given"},
                ]
            }
        }
    )
    outcome = rules.decide(conversation(user("Where is it?"))).outcome
    assert isinstance(outcome, ToolCalls)
    first, second = outcome.calls
    assert (first.id, first.name, json.loads(first.arguments)) == (
        "call_fixed",
        "ask_human",
        {"question": "Q: Where is it?"},
    )
    assert (second.id, second.name, second.arguments) == ("call_given", "lookup", '{"id": 7}')


def test_error_rules_default_their_type_and_code_from_the_status() -> None:
    rules = script(
        {"match": {"last_user": "a"}, "respond": {"error": {"status": 429}}},
        {"match": {"last_user": "b"}, "respond": {"error": {"status": 500, "message": "boom"}}},
        {
            "match": {"last_user": "c"},
            "respond": {"error": {"status": 400, "type": "custom", "code": "nope"}},
        },
    )
    assert rules.decide(conversation(user("a"))).outcome == Failure(
        429, "scripted failure", "rate_limit_error", "rate_limit_exceeded"
    )
    assert rules.decide(conversation(user("b"))).outcome == Failure(500, "boom", "server_error")
    assert rules.decide(conversation(user("c"))).outcome == Failure(
        400, "scripted failure", "custom", "nope"
    )


def test_timeout_and_delay() -> None:
    decision = script({"delay_ms": 250, "respond": {"timeout": True}}).decide(PLAIN)
    assert decision.outcome == Stall()
    assert decision.delay_ms == 250


def test_rules_come_as_a_list_a_rules_object_or_one_rule() -> None:
    rule = {"name": "x", "respond": {"content": "y"}}
    assert [r.name for r in parse_rules([rule])] == ["x"]
    assert [r.name for r in parse_rules({"rules": [rule]})] == ["x"]
    assert [r.name for r in parse_rules(rule)] == ["x"]
    assert parse_rules(None) == []


@pytest.mark.parametrize(
    ("rules", "complaint"),
    [
        ([{"respond": {}}], "exactly one of"),
        ([{"respond": {"content": "a", "json": {}}}], "got content, json"),
        ([{"match": {"last_usr": "x"}, "respond": {"content": "a"}}], "last_usr"),
        ([{"match": {"last_user": "("}, "respond": {"content": "a"}}], "invalid regex"),
        ([{"times": 0, "respond": {"content": "a"}}], "times"),
        ([{"respond": {"error": {"status": 200}}}], "status"),
        ([{"respond": {"timeout": False}}], "timeout can only be true"),
        ([{"match": {}}], "respond"),
        ("not rules", "list of rules"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(rules: Any, complaint: str) -> None:
    with pytest.raises(ScriptError, match=complaint):
        parse_rules(rules)


def test_replace_and_reset() -> None:
    rules = script({"name": "a", "respond": {"content": "a"}})
    rules.add(parse_rules([{"name": "b", "respond": {"content": "b"}}]))
    assert [entry["label"] for entry in rules.describe()] == ["a", "b"]
    rules.replace(parse_rules([{"name": "c", "respond": {"content": "c"}}]))
    assert answer(rules, PLAIN) == ("c", "c")
    rules.reset()
    assert len(rules) == 0
    assert rules.decide(PLAIN).rule.startswith("default:")
