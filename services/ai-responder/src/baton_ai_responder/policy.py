"""What to do with the model's reply, free of I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .llm import AssistantReply, Decisions


@dataclass(frozen=True)
class ReplyPolicy:
    confidence_threshold: float
    approval_topics: Sequence[str]
    review_token_threshold: int


@dataclass(frozen=True)
class Verdict:
    action: Literal["send", "approve", "escalate"]
    reason: str
    kind: Literal["confident", "requires_human", "low_confidence", "topic", "complexity"]


def judge_reply(
    reply: AssistantReply,
    *,
    user_text: str,
    total_tokens: int,
    policy: ReplyPolicy,
    may_escalate: bool = True,
) -> Verdict:
    """Send the reply, hold it for a person's approval, or hand the thread to a person
    (unless ``may_escalate`` is off: the escalation limit is reached)."""
    if not may_escalate:
        return _send_or_approve(
            reply, user_text=user_text, total_tokens=total_tokens, policy=policy
        )
    if reply.requires_human:
        why = reply.reason or "no reason given"
        return Verdict("escalate", f"the AI asked for a person: {why}", "requires_human")
    if reply.confidence < policy.confidence_threshold:
        detail = f": {reply.reason}" if reply.reason else ""
        threshold = policy.confidence_threshold
        return Verdict(
            "escalate",
            f"low confidence ({reply.confidence:.2f} < {threshold:.2f}){detail}",
            "low_confidence",
        )
    return _send_or_approve(reply, user_text=user_text, total_tokens=total_tokens, policy=policy)


def _send_or_approve(
    reply: AssistantReply, *, user_text: str, total_tokens: int, policy: ReplyPolicy
) -> Verdict:
    text = f"{user_text}\n{reply.reply}".casefold()
    topic = next((t for t in policy.approval_topics if t.casefold() in text), None)
    if topic is not None:
        return Verdict("approve", f"sensitive topic: {topic}", "topic")
    if policy.review_token_threshold and total_tokens > policy.review_token_threshold:
        return Verdict(
            "approve",
            f"complex answer: {total_tokens} tokens > {policy.review_token_threshold}",
            "complexity",
        )
    return Verdict("send", "confident answer", "confident")


def may_stream_replies(policy: ReplyPolicy) -> bool:
    """Whether any reply may reach the user while it is written (decision 19).

    Approval topics are looked for in the reply's text and the token limit is judged on the
    whole call's usage: with either on, any reply may still turn into a draft after its last
    word, so none is streamed (its text would reach the user before a person approved it).
    """
    return not policy.approval_topics and not policy.review_token_threshold


def may_stream(decisions: Decisions | None, *, policy: ReplyPolicy) -> bool:
    """Whether this reply may reach the user while it is written: only when
    :func:`judge_reply`, once the whole text is in, can but send it. Known before the
    text: the decisions (a hand-off, or past the escalation limit a reply judged whole,
    never streams); without them (the text came first), nothing streams."""
    if decisions is None or not may_stream_replies(policy):
        return False
    return not decisions.requires_human and decisions.confidence >= policy.confidence_threshold
