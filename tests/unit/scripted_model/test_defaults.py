"""The built-in behaviour: the router's classifier and the AI responder of the offline demo."""

from __future__ import annotations

import json
from typing import Any

import pytest

from baton_scripted_model import Conversation, Script
from baton_scripted_model.conversation import Text, ToolCalls
from baton_scripted_model.defaults import FOLLOW_UP

from .conftest import (
    ASK_HUMAN_TOOL,
    CLASSIFIER_FORMAT,
    REPLY_FORMAT,
    asked_then_answered,
    conversation,
    user,
)


def decide(chat: Conversation) -> tuple[str, Text | ToolCalls]:
    decision = Script(new_call_id=lambda: "call_x").decide(chat)
    assert isinstance(decision.outcome, Text | ToolCalls)
    return decision.rule, decision.outcome


def text_of(chat: Conversation) -> tuple[str, str]:
    rule, outcome = decide(chat)
    assert isinstance(outcome, Text)
    return rule, outcome.content


@pytest.mark.parametrize(
    ("message", "entry", "words"),
    [
        ("What are your opening hours?", "opening_hours", "Monday to Friday"),
        ("How long does delivery take to Berlin?", "shipping", "business days"),
        ("Can I get a refund for my shoes?", "returns", "30 days"),
        ("I forgot my password", "password_reset", "Forgot password"),
        ("Do you take PayPal?", "payment_methods", "PayPal"),
        ("What's your phone number?", "contact", "+1 555 0100"),
        ("Hello!", "greeting", "Baton Demo Shop"),
    ],
)
def test_faq_questions_get_the_faq_answer(message: str, entry: str, words: str) -> None:
    rule, content = text_of(conversation(user(message), tools=[ASK_HUMAN_TOOL]))
    assert rule == f"default:faq:{entry}"
    assert words in content


def test_faq_uses_the_last_user_message() -> None:
    chat = conversation(
        user("Do you take PayPal?"),
        {"role": "assistant", "content": "Yes."},
        user("And how long does shipping take?"),
    )
    assert text_of(chat)[0] == "default:faq:shipping"


def test_faq_miss_with_ask_human_offered_calls_ask_human() -> None:
    message = "Can you check the status of order 4711?"
    rule, outcome = decide(conversation(user(message), tools=[ASK_HUMAN_TOOL]))
    assert rule == "default:ask_human"
    assert isinstance(outcome, ToolCalls)
    (call,) = outcome.calls
    assert (call.id, call.name) == ("call_x", "ask_human")
    arguments = json.loads(call.arguments)
    assert arguments["context"] == message
    assert message in arguments["question"]
    assert set(arguments) == {"question", "context"}


def test_ask_human_arguments_follow_the_tool_schema() -> None:
    tool: dict[str, Any] = {
        "type": "function",
        "function": {
            "name": "ask_human",
            "parameters": {
                "type": "object",
                "properties": {
                    "question": {"type": "string"},
                    "urgency": {"type": "string", "enum": ["low", "high"]},
                },
                "required": ["question", "urgency"],
                "additionalProperties": False,
            },
        },
    }
    _, outcome = decide(conversation(user("Where is order 9?"), tools=[tool]))
    assert isinstance(outcome, ToolCalls)
    arguments = json.loads(outcome.calls[0].arguments)
    assert set(arguments) == {"question", "urgency"}
    assert arguments["urgency"] == "low"


def test_faq_miss_without_tools_promises_a_follow_up() -> None:
    assert text_of(conversation(user("Can you check order 4711?"))) == (
        "default:follow_up",
        FOLLOW_UP,
    )
    hidden = conversation(
        user("Can you check order 4711?"), tools=[ASK_HUMAN_TOOL], tool_choice="none"
    )
    assert text_of(hidden)[0] == "default:follow_up"


def test_tool_result_is_used_in_the_continued_reply() -> None:
    chat = conversation(
        *asked_then_answered("Where is order 4711?", "It left the warehouse this morning."),
        tools=[ASK_HUMAN_TOOL],
    )
    rule, content = text_of(chat)
    assert rule == "default:tool_result"
    assert content == "Thanks for waiting — It left the warehouse this morning."


def test_structured_reply_for_an_faq_answer() -> None:
    chat = conversation(user("When are you open?"), response_format=REPLY_FORMAT)
    reply = json.loads(text_of(chat)[1])
    assert set(reply) == {"reply", "confidence", "requires_human", "reason"}
    assert "Monday to Friday" in reply["reply"]
    assert reply["confidence"] == pytest.approx(0.9)
    assert reply["requires_human"] is False
    assert isinstance(reply["reason"], str)


def test_structured_reply_from_a_tool_result() -> None:
    chat = conversation(
        *asked_then_answered("Where is order 4711?", "Delivered yesterday."),
        response_format=REPLY_FORMAT,
        tools=[ASK_HUMAN_TOOL],
    )
    reply = json.loads(text_of(chat)[1])
    assert reply["reply"].endswith("Delivered yesterday.")
    assert reply["confidence"] == pytest.approx(0.85)
    assert reply["requires_human"] is False


def test_structured_follow_up_asks_for_a_human_with_low_confidence() -> None:
    reply = json.loads(text_of(conversation(user("Order 1?"), response_format=REPLY_FORMAT))[1])
    assert reply["requires_human"] is True
    assert reply["confidence"] < 0.5


def test_structured_reply_keeps_to_a_narrower_schema() -> None:
    narrow: dict[str, Any] = {
        "type": "json_schema",
        "json_schema": {
            "name": "assistant_reply",
            "schema": {
                "type": "object",
                "properties": {"reply": {"type": "string"}, "confidence": {"type": "integer"}},
                "required": ["reply", "confidence"],
                "additionalProperties": False,
            },
        },
    }
    reply = json.loads(text_of(conversation(user("Hello"), response_format=narrow))[1])
    assert set(reply) == {"reply", "confidence"}
    assert reply["confidence"] == 0  # 0.9 is not an integer, so the minimal value stands in


def test_ask_human_is_called_even_when_structured_output_is_requested() -> None:
    chat = conversation(
        user("Is order 5 insured?"), tools=[ASK_HUMAN_TOOL], response_format=REPLY_FORMAT
    )
    assert decide(chat)[0] == "default:ask_human"


def test_json_object_format_gets_the_reply_object() -> None:
    chat = conversation(user("Do you take PayPal?"), response_format={"type": "json_object"})
    assert "PayPal" in json.loads(text_of(chat)[1])["reply"]


def test_unknown_schema_gets_its_minimal_instance() -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "sentiment",
            "schema": {
                "type": "object",
                "properties": {
                    "label": {"type": "string", "enum": ["positive", "negative"]},
                    "score": {"type": "number"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "flagged": {"type": "boolean"},
                    "note": {"type": "string"},
                },
                "required": ["label", "score", "tags", "flagged"],
            },
        },
    }
    rule, content = text_of(conversation(user("Great shop!"), response_format=response_format))
    assert rule == "default:schema_instance"
    assert json.loads(content) == {"label": "positive", "score": 0, "tags": [], "flagged": False}


@pytest.mark.parametrize(
    ("message", "handler"),
    [
        ("I want to talk to a human", "human"),
        ("Let me speak to your manager.", "human"),
        ("Can a real person help me?", "human"),
        ("My lawyer will hear about this", "human"),
        ("I am going to sue you", "human"),
        ("This is a legal matter", "human"),
        ("How long does shipping take?", "ai"),
        ("Where is my order?", "ai"),
    ],
)
def test_classifier(message: str, handler: str) -> None:
    chat = conversation(
        {"role": "system", "content": "You route customer support messages."},
        user(message),
        response_format=CLASSIFIER_FORMAT,
    )
    rule, content = text_of(chat)
    assert rule == "default:classifier"
    verdict = json.loads(content)
    assert set(verdict) == {"handler", "reason", "confidence"}
    assert verdict["handler"] == handler
    assert verdict["reason"]
    assert 0 < verdict["confidence"] <= 1


def test_forced_tool_choice_calls_that_tool_with_minimal_arguments() -> None:
    lookup = {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["order_id"],
            },
        },
    }
    chat = conversation(
        user("Do you take PayPal?"),
        tools=[ASK_HUMAN_TOOL, lookup],
        tool_choice={"type": "function", "function": {"name": "lookup_order"}},
    )
    rule, outcome = decide(chat)
    assert rule == "default:forced_tool"
    assert isinstance(outcome, ToolCalls)
    assert outcome.calls[0].name == "lookup_order"
    assert json.loads(outcome.calls[0].arguments) == {"order_id": ""}
