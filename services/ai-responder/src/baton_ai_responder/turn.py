"""One AI turn: from a user message to a reply, a question for a person, a draft, or a
hand-off.

Every id written during a turn derives from the event that started it (plus the step), so
running the same turn again after a crash rewrites nothing and sends nothing new.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openai.types.chat import ChatCompletionMessageParam

from baton_contracts import (
    Event,
    HumanRequestKind,
    MessageDelta,
    MessageSent,
    ToolHumanRequested,
    derive_id,
)
from baton_conversations import Because, ConversationStore, EscalationBudget, Message, Thread
from baton_runtime import ESCALATIONS, ESCALATIONS_REFUSED, EventPublisher, record_message_sent

from .context import build_context, with_question
from .llm import ChatModel, Completion, Decisions, ModelUnavailableError, ToolCall, Usage
from .metrics import APPROVALS_REQUESTED, STREAMED_REPLIES
from .policy import ReplyPolicy, judge_reply, may_stream, may_stream_replies
from .store import PendingRequest, RequestStore
from .streaming import ReplyStream, StreamSettings
from .tools import ASK_HUMAN, ESCALATE, HUMAN_TOOLS, ToolRegistry

log = logging.getLogger(__name__)

PROVIDER = "openai"
TAKEN_OVER = "taken_over"
"""Why a finished reply is held for approval when people took the thread meanwhile."""


@dataclass(frozen=True)
class TurnConfig:
    agent_name: str
    system_prompt: str
    history_window: int
    max_steps: int
    reply_policy: ReplyPolicy
    streaming: StreamSettings | None = None
    """How replies stream as they are written (``message.delta``); None: they do not."""


@dataclass(frozen=True)
class AiDeps:
    conversations: ConversationStore
    escalations: EscalationBudget
    requests: RequestStore
    model: ChatModel
    tools: ToolRegistry
    config: TurnConfig
    deltas: EventPublisher | None = None
    """Where ``message.delta`` goes: straight to Kafka, not through an outbox (a preview)."""


class Turn:
    def __init__(
        self,
        deps: AiDeps,
        *,
        cause: Event,
        thread: Thread,
        user_message_id: uuid.UUID,
        extra_instructions: Sequence[str] = (),
        draft_attempt: int = 0,
    ) -> None:
        self._deps = deps
        self._cause = cause
        self._thread = thread
        self._user_message_id = user_message_id
        self._extra = tuple(extra_instructions)
        self._draft_attempt = draft_attempt
        self._usage = Usage()
        self._user_message_at: datetime | None = None
        self._stream_found_owner = False

    def _id(self, purpose: str) -> uuid.UUID:
        return derive_id(self._cause.event_id, purpose)

    async def run(self) -> list[Event]:
        deps = self._deps
        config = deps.config
        # The thread as the handler read it tells which messages are its latest: no second read.
        window = await deps.conversations.window(self._thread, limit=config.history_window)
        # Usually in the window just read, so this costs no second lookup.
        user_message = await deps.conversations.get_message(self._user_message_id)
        user_text = user_message.text if user_message else ""
        self._user_message_at = user_message.created_at if user_message else None
        for step in range(1, config.max_steps + 1):
            if step > 1:
                window = await deps.conversations.window(
                    self._thread.thread_id, limit=config.history_window
                )
            history = with_question(window, user_message)
            context = build_context(config.system_prompt, history, extra_instructions=self._extra)
            stream = self._reply_stream()
            try:
                events = await self._step(step, context, user_text=user_text, stream=stream)
            finally:
                if stream is not None:
                    await stream.close()
            if events is not None:
                return events
        return await self.hand_off(
            reason=f"max_steps: no reply after {config.max_steps} model calls",
            category="max_steps",
        )

    async def _step(
        self,
        step: int,
        context: list[ChatCompletionMessageParam],
        *,
        user_text: str,
        stream: ReplyStream | None,
    ) -> list[Event] | None:
        """One model call and what it leads to; None when tools ran and the turn goes on."""
        deps = self._deps
        config = deps.config
        try:
            completion = await deps.model.complete(
                context, deps.tools.definitions(), listener=stream
            )
        except ModelUnavailableError as exc:
            log.warning("model unavailable for thread %s: %s", self._thread.thread_id, exc)
            return await self.hand_off(
                reason="llm_unavailable", category="llm_unavailable", detail=str(exc)
            )
        self._usage = self._usage + completion.usage
        if completion.tool_calls:
            return await self._on_tool_calls(step, completion)
        assert completion.reply is not None
        verdict = judge_reply(
            completion.reply,
            user_text=user_text,
            total_tokens=completion.usage.total_tokens,
            policy=config.reply_policy,
        )
        # A reply whose text is reaching the user is sent, people's takeover meanwhile
        # included (decision 19): only its decision fields could have stopped it, and
        # they let it stream because judge_reply, on them, can but send it.
        committed = stream is not None and stream.streamed and verdict.action == "send"
        if stream is not None:
            self._count_streaming(committed)
        kept: str | None = None
        if verdict.action == "escalate":
            refused = await self._refused(verdict.kind)
            if refused is None:
                return await self.hand_off(
                    reason=verdict.reason,
                    category=verdict.kind,
                    suggestion=completion.reply.reply,
                    confidence=completion.reply.confidence,
                )
            # Past the limit the AI keeps the thread, and its reply passes the same gate.
            kept = f"escalation limit reached ({refused}); would have escalated: {verdict.reason}"
            verdict = judge_reply(
                completion.reply,
                user_text=user_text,
                total_tokens=completion.usage.total_tokens,
                policy=config.reply_policy,
                may_escalate=False,
            )
        if verdict.action == "approve":
            APPROVALS_REQUESTED.labels(verdict.kind).inc()
            return await self._draft(completion, verdict.reason, kept=kept)
        if not committed and await self._taken_over():
            # A person took the conversation over while the model was writing: the
            # reply is theirs to send or drop, held as a draft for approval.
            APPROVALS_REQUESTED.labels(TAKEN_OVER).inc()
            return await self._draft(completion, "a person took the conversation over", kept=kept)
        if committed and stream is not None:
            await stream.finish()  # every delta out before the reply's message.sent
        return await self._send(completion, kept=kept)

    def _reply_stream(self) -> ReplyStream | None:
        """The stream of a step's reply, when a reply may stream at all; it is heard only
        when the reply's decision fields allow it and people do not own the thread."""
        deps = self._deps
        settings = deps.config.streaming
        policy = deps.config.reply_policy
        if deps.deltas is None or settings is None or not may_stream_replies(policy):
            return None
        message_id = self._id("reply")  # the id _send gives the reply

        def delta(sequence: int, text: str) -> MessageDelta:
            return MessageDelta.caused_by(
                self._cause,
                message_id=message_id,
                in_reply_to=self._user_message_id,
                sequence=sequence,
                text=text,
                user_id=self._thread.user_id,
                channel=self._thread.channel,
                agent_name=deps.config.agent_name,
            )

        async def gate(decisions: Decisions | None) -> bool:
            self._stream_found_owner = False
            if not may_stream(decisions, policy=policy):
                return False
            # Read afresh as the text begins: a takeover from here on no longer stops it.
            self._stream_found_owner = await self._taken_over()
            return not self._stream_found_owner

        return ReplyStream(deps.deltas, gate=gate, delta=delta, settings=settings)

    def _count_streaming(self, streamed: bool) -> None:
        if streamed:
            STREAMED_REPLIES.labels("streamed").inc()
        else:
            STREAMED_REPLIES.labels("taken_over" if self._stream_found_owner else "held").inc()

    async def _taken_over(self) -> bool:
        """Whether people own the thread now. Read afresh right before sending: a turn runs
        for seconds and a takeover may land meanwhile. (A takeover between this read and
        the reply's store still lets that one reply through: a window of one write.)"""
        thread = await self._deps.conversations.get_thread(self._thread.thread_id)
        return thread is not None and thread.owner == "human"

    async def _append(self, message: Message) -> Message:
        # The thread as the handler read it: the core knows what it appended since.
        return (await self._deps.conversations.append(message, thread=self._thread)).message

    def _metadata(self, completion: Completion) -> dict[str, Any]:
        return {
            "model": completion.model,
            "usage": completion.usage.as_dict(),
            "turn_usage": self._usage.as_dict(),
            "latency_ms": round(completion.latency_s * 1000),
        }

    async def _on_tool_calls(self, step: int, completion: Completion) -> list[Event] | None:
        """Run executable tools (None: the loop goes on) or hand work to a person."""
        deps = self._deps
        calls = completion.tool_calls
        await self._append(
            Message(
                message_id=self._id(f"tool-calls:{step}"),
                thread_id=self._thread.thread_id,
                role="assistant",
                content=[
                    {
                        "type": "tool-call",
                        "tool_call_id": c.id,
                        "tool_name": c.name,
                        "args": c.arguments,
                    }
                    for c in calls
                ],
                agent_name=deps.config.agent_name,
                provider=PROVIDER,
                metadata=self._metadata(completion),
                visible_to_user=False,
                in_reply_to=self._user_message_id,
            )
        )
        pending: ToolCall | None = None
        escalation: ToolCall | None = None
        for call in calls:
            if call.name == ESCALATE and escalation is None:
                escalation = call
                continue  # its result depends on the escalation limits
            if call.name == ASK_HUMAN and pending is None:
                pending = call
                continue  # its result is the person's answer, later
            if call.name in HUMAN_TOOLS:
                result = "Only one question for a person at a time; ask again later if needed."
            else:
                result = await deps.tools.run(call.name, call.arguments)
            await self._tool_result(step, call, result)

        if escalation is not None:
            refused = await self._refused("escalate_tool")
            if refused is None:
                await self._tool_result(
                    step, escalation, "The conversation was handed to a human support agent."
                )
                if pending is not None:
                    await self._tool_result(
                        step, pending, "Not asked: the conversation was escalated."
                    )
                reason = str(escalation.arguments.get("reason") or "the AI escalated")
                return await self.hand_off(
                    reason=f"escalate: {reason}"[:1000], category="escalate_tool"
                )
            await self._tool_result(
                step,
                escalation,
                f"Not handed to a person: the escalation limit is reached ({refused}). "
                "Keep helping the customer yourself.",
            )
        if pending is not None:
            refused = await self._refused("question")
            if refused is None:
                return await self._ask(step, pending)
            await self._tool_result(
                step,
                pending,
                f"No colleague can be asked now: the escalation limit is reached ({refused}). "
                "Answer with what you know, and say what you cannot confirm.",
            )
        return None

    async def _refused(self, path: str) -> str | None:
        """Take one escalation from the thread's budget; which limit stops it, if one does."""
        refused = await self._deps.escalations.take(self._thread)
        if refused is None:
            return None
        ESCALATIONS_REFUSED.labels(path).inc()
        return refused.reason

    async def _tool_result(self, step: int, call: ToolCall, result: str) -> None:
        await self._append(
            Message(
                message_id=self._id(f"tool-result:{step}:{call.id}"),
                thread_id=self._thread.thread_id,
                role="tool",
                content=[
                    {
                        "type": "tool-result",
                        "tool_call_id": call.id,
                        "tool_name": call.name,
                        "result": result,
                    }
                ],
                provider="tool",
                visible_to_user=False,
                in_reply_to=self._user_message_id,
            )
        )

    async def _ask(self, step: int, call: ToolCall) -> list[Event]:
        ESCALATIONS.labels("question").inc()
        question = str(call.arguments.get("question") or "").strip() or "(no question given)"
        context = str(call.arguments.get("context") or "")
        return [
            await self._request_person(
                "question",
                request_key=f"ask:{step}",
                event_key=str(step),
                tool_call_id=call.id,
                question=question[:4000],
                context=context[:8000] or None,
                reason="the AI needs a fact only a person has",
            )
        ]

    async def _send(self, completion: Completion, *, kept: str | None = None) -> list[Event]:
        assert completion.reply is not None
        stored = await self._append(
            Message(
                message_id=self._id("reply"),
                thread_id=self._thread.thread_id,
                role="assistant",
                content=completion.reply.reply,
                agent_name=self._deps.config.agent_name,
                provider=PROVIDER,
                metadata={
                    **self._metadata(completion),
                    "confidence": completion.reply.confidence,
                    **({"kept_by_limit": kept} if kept else {}),
                },
                in_reply_to=self._user_message_id,
            )
        )
        record_message_sent(
            answered_by="ai", provider=PROVIDER, user_message_at=self._user_message_at
        )
        return [self.sent(stored)]

    def sent(self, message: Message) -> MessageSent:
        return message_sent(self._cause, self._thread, message)

    async def _draft(
        self, completion: Completion, reason: str, *, kept: str | None = None
    ) -> list[Event]:
        assert completion.reply is not None
        draft_id = self._id("draft")
        stored = await self._append(
            Message(
                message_id=draft_id,
                thread_id=self._thread.thread_id,
                role="assistant",
                content=completion.reply.reply,
                agent_name=self._deps.config.agent_name,
                provider=PROVIDER,
                metadata={
                    **self._metadata(completion),
                    "confidence": completion.reply.confidence,
                    **({"kept_by_limit": kept} if kept else {}),
                    "approval_reason": reason,
                    "draft_attempt": self._draft_attempt,
                },
                status="pending_approval",
                visible_to_user=False,
                in_reply_to=self._user_message_id,
            )
        )
        return [
            await self._request_person(
                "approval",
                draft_message_id=draft_id,
                reason=reason,
                draft_text=stored.text,
                confidence=completion.reply.confidence,
            )
        ]

    async def hand_off(
        self,
        *,
        reason: str,
        category: str,
        detail: str | None = None,
        suggestion: str | None = None,
        confidence: float | None = None,
    ) -> list[Event]:
        """Give the thread to people: it becomes human-owned (the conversation core announces
        that) and an escalation is queued.

        ``category`` is the bounded metric label; ``reason`` the sentence people read.
        """
        ESCALATIONS.labels(category).inc()
        await self._deps.conversations.assign(
            self._thread,
            owner="human",
            agent_id=None,
            reason=reason,
            because=Because.of(self._cause, "thread.assigned:handoff"),
            only_from="ai",
        )
        return [
            await self._request_person(
                "escalation",
                reason=reason[:1000],
                context=detail[:8000] if detail else None,
                suggestion=suggestion[:16_000] if suggestion else None,
                confidence=confidence,
            )
        ]

    async def _request_person(
        self,
        kind: HumanRequestKind,
        *,
        request_key: str | None = None,
        event_key: str | None = None,
        tool_call_id: str | None = None,
        draft_message_id: uuid.UUID | None = None,
        **details: Any,
    ) -> ToolHumanRequested:
        """Remember what this turn waits for, and the event that asks people for it."""
        request_id = self._id(request_key or kind)
        await self._deps.requests.add(
            PendingRequest(
                request_id=request_id,
                kind=kind,
                thread_id=self._thread.thread_id,
                user_message_id=self._user_message_id,
                tool_call_id=tool_call_id,
                draft_message_id=draft_message_id,
            )
        )
        return ToolHumanRequested.caused_by(
            self._cause,
            purpose=f"tool.human_requested:{event_key or kind}",
            request_id=request_id,
            kind=kind,
            message_id=self._user_message_id,
            tool_call_id=tool_call_id,
            draft_message_id=draft_message_id,
            department=self._thread.department,
            user_tier=self._thread.user_tier,
            **details,
        )


def message_sent(cause: Event, thread: Thread, message: Message) -> MessageSent:
    """``message.sent`` for a stored message; its id derives from the message, so one
    message is never announced under two event ids."""
    return MessageSent.caused_by(
        cause,
        event_id=derive_id(message.message_id, "message.sent"),
        message_id=message.message_id,
        in_reply_to=message.in_reply_to,
        text=message.text,
        user_id=thread.user_id,
        channel=thread.channel,
        agent_name=message.agent_name or "Baton AI",
        provider=message.provider or PROVIDER,
    )
