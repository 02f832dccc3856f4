"""What to do with the model's reply, free of I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .llm import AssistantReply


@dataclass(frozen=True)
class ReplyPolicy:
    confidence_threshold: float
    approval_topics: Sequence[str]
    review_token_threshold: int


@dataclass(frozen=True)
class Verdict:
    action: Literal["send", "approve", "escalate"]
    reason: str


def judge_reply(
    reply: AssistantReply, *, user_text: str, total_tokens: int, policy: ReplyPolicy
) -> Verdict:
    """Send the reply, hold it for a person's approval, or hand the thread to a person."""
    if reply.requires_human:
        return Verdict(
            "escalate", f"the AI asked for a person: {reply.reason or 'no reason given'}"
        )
    if reply.confidence < policy.confidence_threshold:
        detail = f": {reply.reason}" if reply.reason else ""
        return Verdict(
            "escalate",
            f"low confidence ({reply.confidence:.2f} < {policy.confidence_threshold:.2f}){detail}",
        )
    text = f"{user_text}\n{reply.reply}".casefold()
    topic = next((t for t in policy.approval_topics if t.casefold() in text), None)
    if topic is not None:
        return Verdict("approve", f"sensitive topic: {topic}")
    if policy.review_token_threshold and total_tokens > policy.review_token_threshold:
        return Verdict(
            "approve",
            f"complex answer: {total_tokens} tokens > {policy.review_token_threshold}",
        )
    return Verdict("send", "confident answer")
