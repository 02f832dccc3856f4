"""The demo model's use of the demo shop's tools: it calls them only when they are offered and
the customer asks about an order, and it words their answers for the customer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from baton_scripted_model import Conversation, Script
from baton_scripted_model.conversation import Text, ToolCalls
from baton_scripted_model.defaults import DEFAULT_CREDIT, credit_amount, tool_reply
from baton_scripted_model.shop import demo_tools

from .conftest import ASK_HUMAN_TOOL, REPLY_FORMAT, conversation, user


def offered(*names: str) -> list[dict[str, Any]]:
    """The demo tools named, as the ai-responder offers them to the model."""
    tools = {t["name"]: t for t in demo_tools("http://127.0.0.1:8010")["tools"]}
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": tools[name]["description"],
                "parameters": tools[name]["parameters"],
            },
        }
        for name in names
    ]


SHOP_TOOLS = [ASK_HUMAN_TOOL, *offered("order_status", "credit_order")]


def decide(chat: Conversation) -> tuple[str, Text | ToolCalls]:
    decision = Script(new_call_id=lambda: "call_x").decide(chat)
    assert isinstance(decision.outcome, Text | ToolCalls)
    return decision.rule, decision.outcome


def called(message: str, tools: list[dict[str, Any]] = SHOP_TOOLS) -> tuple[str, dict[str, Any]]:
    rule, outcome = decide(conversation(user(message), tools=tools))
    assert isinstance(outcome, ToolCalls), rule
    (call,) = outcome.calls
    assert rule == f"default:{call.name}"
    arguments: dict[str, Any] = json.loads(call.arguments)
    return call.name, arguments


def after_tool(result: str, **options: Any) -> tuple[str, str]:
    """The reply once the tool's ``result`` is the last message."""
    messages = [
        user("Please refund 30 EUR for order 1234"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "credit_order", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]
    rule, outcome = decide(conversation(*messages, tools=SHOP_TOOLS, **options))
    assert isinstance(outcome, Text)
    return rule, outcome.content


def test_money_back_on_an_order_calls_credit_order_with_the_amount_and_why() -> None:
    message = "Please refund 30 EUR for order 1234"
    name, arguments = called(message)
    assert name == "credit_order"
    assert arguments == {
        "order_id": "1234",
        "amount": 30,
        "reason": f"The customer asked: {message}",
    }


@pytest.mark.parametrize(
    "message",
    [
        "I want my money back for order #98765",
        "Can you credit order no. 98765? It came broken",
        "Please reimburse me for order number 98765",
    ],
)
def test_money_back_without_an_amount_credits_the_default(message: str) -> None:
    assert called(message) == (
        "credit_order",
        {"order_id": "98765", "amount": DEFAULT_CREDIT, "reason": f"The customer asked: {message}"},
    )


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("refund 20 EUR please", 20),
        ("refund €20 please", 20),
        ("refund € 20 please", 20),
        ("refund 20€ please", 20),
        ("refund 20 euros please", 20),
        ("refund 1 euro please", 1),
        ("refund EUR 12.50 please", 12.5),
        ("refund 12,50 € please", 12.5),
        ("refund for order 1234 please", None),  # the order number is no amount
        ("refund 20 please", None),
    ],
)
def test_the_amount_needs_a_currency(text: str, amount: float | None) -> None:
    assert credit_amount(text) == amount


@pytest.mark.parametrize(
    "message",
    ["Where is my order 4711?", "What's the status of order #4711", "Track order 4711 please"],
)
def test_where_an_order_is_calls_order_status(message: str) -> None:
    assert called(message) == ("order_status", {"order_id": "4711"})


def test_money_back_comes_before_the_status_when_both_are_asked() -> None:
    assert called("Order 1234 never arrived, where is it? I want a refund")[0] == "credit_order"


def test_a_credit_card_is_no_credit() -> None:
    assert called("I paid order 1234 by credit card, where is it?")[0] == "order_status"


def test_the_shop_tools_are_not_called_unless_offered() -> None:
    # Only ask_human offered: the FAQ and ask_human answer as they did before the shop.
    rule, _ = decide(
        conversation(user("Can I get a refund for order 1234?"), tools=[ASK_HUMAN_TOOL])
    )
    assert rule == "default:faq:returns"
    rule, _ = decide(conversation(user("Where is order 1234?"), tools=[ASK_HUMAN_TOOL]))
    assert rule == "default:ask_human"
    # One of the two offered: only that one is called.
    rule, _ = decide(
        conversation(user("Refund 30 EUR for order 1234"), tools=offered("order_status"))
    )
    assert rule == "default:faq:returns"
    assert called("Where is order 1234?", offered("order_status"))[0] == "order_status"
    credit_only = [ASK_HUMAN_TOOL, *offered("credit_order")]
    assert decide(conversation(user("Where is order 1234?"), tools=credit_only))[0] == (
        "default:ask_human"
    )


def test_without_an_order_number_the_faq_answers() -> None:
    rule, _ = decide(conversation(user("Can I get a refund for my shoes?"), tools=SHOP_TOOLS))
    assert rule == "default:faq:returns"
    rule, _ = decide(conversation(user("Where is my order?"), tools=SHOP_TOOLS))
    assert rule == "default:ask_human"


def test_tool_choice_none_offers_nothing() -> None:
    chat = conversation(user("Refund 30 EUR for order 1234"), tools=SHOP_TOOLS, tool_choice="none")
    assert decide(chat)[0] == "default:faq:returns"


def test_a_credit_result_is_confirmed() -> None:
    result = json.dumps({"order_id": "1234", "credited": 30.0, "total_credited": 30.0})
    assert after_tool(result) == ("default:tool_result", "Done — I credited 30 EUR to order 1234.")
    result = json.dumps({"order_id": "1234", "credited": 12.5, "total_credited": 42.5})
    assert after_tool(result)[1] == (
        "Done — I credited 12.50 EUR to order 1234. In all, 42.50 EUR have been credited to it."
    )


def test_a_denial_says_the_colleague_did_not_approve_and_why() -> None:
    denied = json.dumps({"denied": True, "reason": "already refunded last week", "by": "Alex"})
    assert after_tool(denied)[1] == (
        "I'm sorry — my colleague did not approve this: already refunded last week"
    )
    expired = json.dumps({"denied": True, "reason": "expired"})
    assert "nobody could approve that in time" in after_tool(expired)[1]


def test_an_edited_approval_confirms_the_credit_and_says_who_changed_it() -> None:
    result = json.dumps(
        {
            "note": "Alex changed the arguments before approving",
            "arguments": {"order_id": "1234", "amount": 20},
            "result": json.dumps({"order_id": "1234", "credited": 20, "total_credited": 20}),
        }
    )
    assert after_tool(result)[1] == (
        "Done — I credited 20 EUR to order 1234. (Alex changed the arguments before approving.)"
    )


def test_an_order_status_result_is_told() -> None:
    shipped = {"order_id": "4711", "state": "shipped", "delivery_date": "2025-06-12"}
    assert tool_reply(json.dumps(shipped)) == (
        "Order 4711 is shipped; it should arrive by 2025-06-12."
    )
    delivered = {**shipped, "state": "delivered", "delivery_date": "2025-06-02"}
    assert tool_reply(json.dumps(delivered)) == "Order 4711 was delivered on 2025-06-02."


def test_a_tool_error_and_other_answers() -> None:
    assert tool_reply('{"error": "timed out"}') == (
        "I'm sorry, that did not work just now (timed out). Please try again later."
    )
    assert tool_reply('{"x": 1}') == 'Thanks for waiting — {"x": 1}'
    assert tool_reply("It ships on Friday.") == "Thanks for waiting — It ships on Friday."


def test_the_tool_reply_fills_the_reply_schema() -> None:
    result = json.dumps({"order_id": "1234", "credited": 30, "total_credited": 30})
    _, content = after_tool(result, response_format=REPLY_FORMAT)
    reply = json.loads(content)
    assert reply["reply"] == "Done — I credited 30 EUR to order 1234."
    assert reply["requires_human"] is False
