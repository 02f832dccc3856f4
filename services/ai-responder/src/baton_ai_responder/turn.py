"""One AI turn: from a user message to a reply, a question for a person, a draft, or a
hand-off.

Every id written during a turn derives from the event that started it (plus the step), so
running the same turn again after a crash rewrites nothing and sends nothing new.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openai.types.chat import ChatCompletionMessageParam

from baton_contracts import (
    ActionDecided,
    Event,
    HumanRequestKind,
    MessageDelta,
    MessageSent,
    ToolAction,
    ToolHumanRequested,
    derive_id,
)
from baton_conversations import Because, ConversationStore, EscalationBudget, Message, Thread
from baton_runtime import ESCALATIONS, ESCALATIONS_REFUSED, EventPublisher, record_message_sent

from .actions import ActionRunner
from .context import build_context, with_question
from .llm import ChatModel, Completion, Decisions, ModelUnavailableError, ToolCall, Usage
from .metrics import APPROVALS_REQUESTED, STREAMED_REPLIES, TOOL_CALLS
from .policy import ReplyPolicy, judge_reply, may_stream, may_stream_replies
from .store import ExecutionStore, PendingRequest, RequestStore
from .streaming import ReplyStream, StreamSettings
from .tools import ASK_HUMAN, ESCALATE, HUMAN_TOOLS, Tool, Toolbox, ToolOutcome, tool_error

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
    executions: ExecutionStore
    model: ChatModel
    tools: Toolbox
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
        self._actions = ActionRunner(
            deps.executions,
            cause=cause,
            thread_id=thread.thread_id,
            user_message_id=user_message_id,
        )
        self._tool_failure: str | None = None
        """The latest tool call that failed, while no later one succeeded."""

    def _id(self, purpose: str) -> uuid.UUID:
        return derive_id(self._cause.event_id, purpose)

    async def run(self) -> list[Event]:
        events = await self._run()
        # The actions' announcements first: they happened before what the turn ends with.
        return [*self._actions.executed, *events]

    async def _run(self) -> list[Event]:
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
        if self._tool_failure is not None:
            # The model's retries of a failing tool used up the turn: people take over,
            # as when the model itself fails.
            return await self.hand_off(
                reason=f"tool_failed: {self._tool_failure}"[:1000], category="tool_failed"
            )
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
                context, deps.tools.definitions(self._thread.department), listener=stream
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
        stored = await self._append(
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
                    for c in completion.tool_calls
                ],
                agent_name=deps.config.agent_name,
                provider=PROVIDER,
                metadata=self._metadata(completion),
                visible_to_user=False,
                in_reply_to=self._user_message_id,
            )
        )
        # A turn run again after a crash keeps the calls its first run stored: the model
        # names them anew each time, and results and requests must refer to the stored ones.
        calls = stored_calls(stored) or completion.tool_calls
        pending: ToolCall | None = None
        escalation: ToolCall | None = None
        proposal: _Proposal | None = None
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
                used = await self._use_tool(step, call)
                if isinstance(used, _Proposal) and proposal is None:
                    proposal = used
                    continue  # its result is the person's decision, later
                result = used if isinstance(used, str) else ONE_ACTION_AT_A_TIME
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
                if proposal is not None:
                    await self._tool_result(step, proposal.call, NOT_RUN_ESCALATED)
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
                if proposal is not None:
                    await self._tool_result(step, proposal.call, ONE_ACTION_AT_A_TIME)
                return await self._ask(step, pending)
            await self._tool_result(
                step,
                pending,
                f"No colleague can be asked now: the escalation limit is reached ({refused}). "
                "Answer with what you know, and say what you cannot confirm.",
            )
        if proposal is not None:
            return [await self._propose(step, proposal)]
        return None

    async def _use_tool(self, step: int, call: ToolCall) -> str | _Proposal:
        """Run a call of a tool at once, or, when it needs approval, what to propose; a
        call that cannot run is a tool error for the model, never a request."""
        tool = self._deps.tools.get(call.name, self._thread.department)
        if tool is None:
            TOOL_CALLS.labels(tool="unknown", outcome="unknown").inc()
            return json.dumps({"error": f"unknown tool {call.name!r}"})
        why = tool.invalid(call.arguments)
        if why is not None:
            # Invalid arguments never reach the tool, nor a person.
            TOOL_CALLS.labels(tool=tool.name, outcome="invalid").inc()
            self._tool_failure = f"invalid arguments for {tool.name}: {why}"
            return json.dumps({"error": f"invalid arguments: {why}"})
        reason = tool.approval_reason(call.arguments) if tool.audited else None
        if reason is not None:
            return _Proposal(call, tool, reason)
        outcome = await self.execute(
            tool, call.id, dict(call.arguments), key=self._id(f"tool:{step}:{call.id}")
        )
        return outcome.content

    async def execute(
        self,
        tool: Tool,
        tool_call_id: str,
        arguments: dict[str, Any],
        *,
        key: uuid.UUID,
        request_id: uuid.UUID | None = None,
        ticket_id: str | None = None,
    ) -> ToolOutcome:
        """Run a tool's call (an action: at most once under ``key``, and announced with the
        turn's end); a failure stays the turn's latest until a call succeeds."""
        outcome = await self._actions.run(
            tool, tool_call_id, arguments, key=key, request_id=request_id, ticket_id=ticket_id
        )
        self._tool_failure = None if outcome.ok else f"{tool.name}: {outcome.error}"
        return outcome

    async def _propose(self, step: int, proposal: _Proposal) -> ToolHumanRequested:
        """Ask people to approve a tool call; the turn waits for their decision."""
        tool, call = proposal.tool, proposal.call
        TOOL_CALLS.labels(tool=tool.name, outcome="approval_requested").inc()
        return await self._request_person(
            "action",
            request_key=f"action:{step}",
            event_key=f"action:{step}",
            tool_call_id=call.id,
            tool_name=tool.name,
            reason=f"the AI wants to run {tool.name}; approval: {proposal.reason}"[:1000],
            action=ToolAction(
                tool_name=tool.name,
                description=tool.description[:4000],
                parameters=dict(tool.parameters),
                arguments=dict(call.arguments),
                approval_reason=proposal.reason[:1000],
            ),
        )

    async def resume(self, request: PendingRequest, decided: ActionDecided) -> list[Event]:
        """A person decided on the action the turn waited for: the tool's answer (approved)
        or the denial becomes the call's result, and the turn goes on."""
        if decided.decision == "approved":
            arguments = dict(decided.arguments or {})
            result = await self._approved_result(request, decided, arguments)
            if decided.edited:
                result = json.dumps(
                    {
                        "note": f"{decided.agent.name} changed the arguments before approving",
                        "arguments": arguments,
                        "result": result,
                    }
                )
            outcome = "approved"
        else:
            TOOL_CALLS.labels(tool=decided.tool_name, outcome="denied").inc()
            result = denial(decided.reason or "denied", by=decided.agent.name)
            outcome = "denied"
        await self.resume_with(
            decided.tool_call_id,
            decided.tool_name,
            result,
            metadata={"ticket_id": decided.ticket_id, "decision": outcome},
            request=request,
        )
        return await self.run()

    async def _approved_result(
        self, request: PendingRequest, decided: ActionDecided, arguments: dict[str, Any]
    ) -> str:
        tool = self._deps.tools.get(decided.tool_name, self._thread.department)
        if tool is None:
            return tool_error(f"the tool {decided.tool_name!r} is no longer available").content
        why = tool.invalid(arguments)
        if why is not None:
            return tool_error(f"invalid arguments: {why}").content
        outcome = await self.execute(
            tool,
            decided.tool_call_id,
            arguments,
            # Derived from the approval: every attempt to run it sends the same key.
            key=derive_id(decided.event_id, "idempotency-key"),
            request_id=request.request_id,
            ticket_id=decided.ticket_id,
        )
        return outcome.content

    async def resume_with(
        self,
        tool_call_id: str,
        tool_name: str,
        result: str,
        *,
        metadata: dict[str, Any],
        request: PendingRequest,
        provider: str = "tool",
        agent_name: str | None = None,
    ) -> None:
        """Store the result of the call the turn waited for (a person's answer, a decision
        on an action, or the word that none came in time), as the cause's; the turn's
        window then holds it."""
        appended = await self._deps.conversations.append(
            Message(
                message_id=self._id("tool-result"),
                thread_id=self._thread.thread_id,
                role="tool",
                content=[
                    {
                        "type": "tool-result",
                        "tool_call_id": tool_call_id,
                        "tool_name": tool_name,
                        "result": result,
                    }
                ],
                agent_name=agent_name,
                provider=provider,
                metadata=metadata,
                visible_to_user=False,
                in_reply_to=request.user_message_id,
            ),
            thread=self._thread,
        )
        self._thread = appended.thread or await self._deps.conversations.require_thread(
            self._thread.thread_id
        )

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
        tool_name: str | None = None,
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
                tool_name=tool_name,
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


ONE_ACTION_AT_A_TIME = (
    "Not run: another request to a person waits; propose this call again after it is decided."
)
NOT_RUN_ESCALATED = "Not run: the conversation was handed to a person."


@dataclass(frozen=True)
class _Proposal:
    """A tool call that needs a person's approval, and why."""

    call: ToolCall
    tool: Tool
    reason: str


def stored_calls(message: Message) -> tuple[ToolCall, ...]:
    """The tool calls a stored assistant message holds."""
    if not isinstance(message.content, list):
        return ()
    return tuple(
        ToolCall(id=part["tool_call_id"], name=part["tool_name"], arguments=part["args"])
        for part in message.content
        if part.get("type") == "tool-call"
    )


def denial(reason: str, *, by: str | None = None) -> str:
    """The result the model reads for an action that did not run."""
    return json.dumps({"denied": True, "reason": reason, **({"by": by} if by else {})})


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
