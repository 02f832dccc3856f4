from __future__ import annotations

import uuid

from baton_ai_responder.context import build_context
from baton_ai_responder.llm import AssistantReply, Decisions
from baton_ai_responder.policy import ReplyPolicy, judge_reply, may_stream
from baton_conversations import Message

POLICY = ReplyPolicy(
    confidence_threshold=0.7, approval_topics=("refund",), review_token_threshold=500
)


def reply(
    text: str = "Sure.", confidence: float = 0.9, requires_human: bool = False
) -> AssistantReply:
    return AssistantReply(
        reply=text, confidence=confidence, requires_human=requires_human, reason="r"
    )


def test_confident_reply_is_sent() -> None:
    assert judge_reply(reply(), user_text="hi", total_tokens=100, policy=POLICY).action == "send"


def test_low_confidence_escalates_and_says_why() -> None:
    verdict = judge_reply(reply(confidence=0.5), user_text="hi", total_tokens=100, policy=POLICY)
    assert verdict.action == "escalate"
    assert verdict.reason == "low confidence (0.50 < 0.70): r"


def test_required_human_escalates_even_when_confident() -> None:
    verdict = judge_reply(reply(requires_human=True), user_text="hi", total_tokens=1, policy=POLICY)
    assert verdict.action == "escalate"


def test_sensitive_topic_in_question_or_reply_needs_approval() -> None:
    assert (
        judge_reply(reply(), user_text="A REFUND?", total_tokens=1, policy=POLICY).action
        == "approve"
    )
    assert (
        judge_reply(reply("refund issued"), user_text="x", total_tokens=1, policy=POLICY).action
        == "approve"
    )


def test_complex_answer_needs_approval_only_when_enabled() -> None:
    verdict = judge_reply(reply(), user_text="x", total_tokens=501, policy=POLICY)
    assert (verdict.action, verdict.reason) == ("approve", "complex answer: 501 tokens > 500")
    off = ReplyPolicy(0.7, (), 0)
    assert judge_reply(reply(), user_text="x", total_tokens=10**6, policy=off).action == "send"


def _message(role: str, content: object, **fields: object) -> Message:
    return Message(message_id=uuid.uuid4(), thread_id="t", role=role, content=content, **fields)  # type: ignore[arg-type]


def test_context_keeps_answered_tool_calls_and_drops_the_rest() -> None:
    history = [
        _message("user", "Where is order 42?"),
        _message(
            "assistant",
            [
                {
                    "type": "tool-call",
                    "tool_call_id": "c1",
                    "tool_name": "ask_human",
                    "args": {"question": "?"},
                }
            ],
            visible_to_user=False,
        ),
        _message(
            "tool",
            [
                {
                    "type": "tool-result",
                    "tool_call_id": "c1",
                    "tool_name": "ask_human",
                    "result": "shipped",
                }
            ],
        ),
        _message("assistant", "draft text", status="pending_approval", visible_to_user=False),
        _message("assistant", "rejected text", status="rejected", visible_to_user=False),
        _message("user", "and order 43?"),
        _message(
            "assistant",
            [{"type": "tool-call", "tool_call_id": "c2", "tool_name": "ask_human", "args": {}}],
            visible_to_user=False,
        ),
        _message("assistant", "Hi, Alex here.", provider="human", agent_name="Alex"),
    ]
    context = build_context("system", history, extra_instructions=["be nice"])
    assert [m["role"] for m in context] == [
        "system",
        "system",
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
    ]
    assert str(context[3]).count("'id': 'c1'") == 1
    assert context[4] == {"role": "tool", "tool_call_id": "c1", "content": "shipped"}
    assert context[6].get("content") == "[Alex, support agent] Hi, Alex here."


STREAMING = ReplyPolicy(confidence_threshold=0.7, approval_topics=(), review_token_threshold=0)


def test_a_reply_streams_only_when_its_decisions_can_but_send_it() -> None:
    assert may_stream(Decisions(0.9, False), policy=STREAMING)
    assert may_stream(Decisions(0.7, False), policy=STREAMING)  # at the threshold: sent
    assert not may_stream(Decisions(0.69, False), policy=STREAMING)  # a hand-off
    assert not may_stream(Decisions(0.99, True), policy=STREAMING)  # a person asked for
    assert not may_stream(None, policy=STREAMING)  # the text came before the decisions
    # Judged on the whole text: a topic or the token limit may hold any reply back.
    assert not may_stream(Decisions(0.9, False), policy=POLICY)
    topics_only = ReplyPolicy(0.7, approval_topics=("legal",), review_token_threshold=0)
    assert not may_stream(Decisions(0.9, False), policy=topics_only)
    limit_only = ReplyPolicy(0.7, approval_topics=(), review_token_threshold=800)
    assert not may_stream(Decisions(0.9, False), policy=limit_only)


def test_the_decisions_are_read_only_from_valid_fields() -> None:
    assert Decisions.of({"confidence": 1, "requires_human": False}) == Decisions(1.0, False)
    assert Decisions.of({"confidence": 0.5}) is None
    assert Decisions.of({"confidence": True, "requires_human": False}) is None
    assert Decisions.of({"confidence": 1.5, "requires_human": False}) is None
    assert Decisions.of({"confidence": "0.9", "requires_human": False}) is None
    assert Decisions.of({"confidence": 0.9, "requires_human": "no"}) is None
