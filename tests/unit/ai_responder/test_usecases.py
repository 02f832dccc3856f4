"""The AI responder's use cases against the in-memory conversation core, request store and
a scripted model: every way a turn ends, and what people's decisions lead to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from baton_ai_responder.llm import (
    AssistantReply,
    Completion,
    ModelUnavailableError,
    ToolCall,
    Usage,
)
from baton_ai_responder.policy import ReplyPolicy
from baton_ai_responder.store import Execution, PendingRequest
from baton_ai_responder.tools import Toolbox, default_toolbox
from baton_ai_responder.turn import AiDeps, TurnConfig
from baton_ai_responder.usecases import Responder
from baton_contracts import (
    DraftApproved,
    DraftRejected,
    Event,
    HumanAgent,
    HumanResponded,
    MessageReceived,
    MessageSent,
    RouteDecided,
    ThreadAssigned,
    ToolHumanRequested,
)
from baton_conversations import Because, Message
from baton_runtime import Rejected
from tests.support.memory import MemoryConversations, MemoryEscalations

AGENT = HumanAgent(agent_id="agent-1", name="Alex", department="support")


class ScriptedModel:
    """Answers each call with the next of ``answers`` (a completion, or an error)."""

    def __init__(self, *answers: Completion | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[Sequence[Any]] = []

    async def complete(
        self, messages: Sequence[Any], tools: Sequence[Any], *, listener: Any = None
    ) -> Completion:
        self.calls.append(messages)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class MemoryRequests:
    def __init__(self) -> None:
        self.requests: dict[uuid.UUID, PendingRequest] = {}
        self.closed: set[uuid.UUID] = set()

    async def add(self, request: PendingRequest) -> None:
        self.requests.setdefault(request.request_id, request)

    async def get(self, request_id: uuid.UUID) -> PendingRequest | None:
        return self.requests.get(request_id)

    async def by_tool_call(self, tool_call_id: str) -> PendingRequest | None:
        return next((r for r in self.requests.values() if r.tool_call_id == tool_call_id), None)

    async def close(self, request_id: uuid.UUID, **fields: Any) -> None:
        self.closed.add(request_id)


class MemoryExecutions:
    """The execution records, as MongoExecutions keeps them."""

    def __init__(self) -> None:
        self.records: dict[str, Execution] = {}

    async def begin(
        self, key: str, *, tool_name: str, thread_id: str, arguments: dict[str, Any]
    ) -> Execution | None:
        before = self.records.get(key)
        if before is None:
            self.records[key] = Execution(key=key, done=False, attempts=1)
        elif not before.done:
            self.records[key] = replace(before, attempts=before.attempts + 1)
        return before

    async def finish(self, key: str, execution: Execution) -> None:
        self.records[key] = execution


def reply(text: str, confidence: float = 0.95, tokens: int = 10) -> Completion:
    return Completion(
        "scripted",
        Usage(tokens, 0),
        reply=AssistantReply(reply=text, confidence=confidence, requires_human=False),
    )


def calls(*tool_calls: ToolCall) -> Completion:
    return Completion("scripted", Usage(5, 5), tool_calls=tool_calls)


class Setup:
    def __init__(
        self,
        *answers: Completion | Exception,
        fallback: str = "regenerate",
        per_thread: int = 3,
        tools: Toolbox | None = None,
    ) -> None:
        self.conversations = MemoryConversations()
        self.escalations = MemoryEscalations(per_thread=per_thread)
        self.requests = MemoryRequests()
        self.model = ScriptedModel(*answers)
        self.executions = MemoryExecutions()
        deps = AiDeps(
            conversations=self.conversations,
            escalations=self.escalations,
            requests=self.requests,
            model=self.model,
            tools=tools or default_toolbox(),
            executions=self.executions,
            config=TurnConfig(
                agent_name="Baton AI",
                system_prompt="be helpful",
                history_window=20,
                max_steps=3,
                reply_policy=ReplyPolicy(
                    confidence_threshold=0.7,
                    approval_topics=("refund",),
                    review_token_threshold=0,
                ),
            ),
        )
        self.responder = Responder(deps, rejection_fallback=fallback)  # type: ignore[arg-type]

    async def route(self, text: str) -> tuple[RouteDecided, list[Event]]:
        thread = await self.conversations.open_thread(
            user_id="u1", channel="web", department="support", metadata={}
        )
        user = await self.conversations.append(
            Message(message_id=uuid.uuid4(), thread_id=thread.thread_id, role="user", content=text)
        )
        received = MessageReceived.first(
            thread_id=thread.thread_id, message_id=user.message.message_id, text=text
        )
        route = RouteDecided.caused_by(
            received,
            message_id=received.message_id,
            handler="ai",
            strategy="default",
            reason="no rule matched",
            text=text,
        )
        return route, await self.responder.route(route)

    def assigned(self) -> list[ThreadAssigned]:
        return self.conversations.publisher.of_type(ThreadAssigned)


def only(events: Sequence[Event], event_type: type[Any]) -> Any:
    [event] = [e for e in events if isinstance(e, event_type)]
    return event


async def test_a_confident_reply_is_stored_and_sent() -> None:
    ai = Setup(reply("We open at 9."))
    route, events = await ai.route("When do you open?")
    sent = only(events, MessageSent)
    assert (sent.text, sent.in_reply_to, sent.provider) == (
        "We open at 9.",
        route.message_id,
        "openai",
    )
    stored = await ai.conversations.get_message(sent.message_id)
    assert stored is not None
    assert stored.visible_to_user
    assert ai.assigned() == []


async def test_a_question_for_a_person_waits_and_the_answer_continues_the_turn() -> None:
    ask = ToolCall("call-1", "ask_human", {"question": "Is order 7 shipped?", "context": "c"})
    ai = Setup(calls(ask), reply("Order 7 shipped yesterday."))
    route, events = await ai.route("Where is order 7?")
    question = only(events, ToolHumanRequested)
    assert (question.kind, question.tool_call_id) == ("question", "call-1")
    assert not [e for e in events if isinstance(e, MessageSent)]

    answer = HumanResponded.caused_by(
        question,
        kind="answer",
        ticket_id="ticket-1",
        message_id=uuid.uuid4(),
        text="Yes, yesterday.",
        agent=AGENT,
        request_id=question.request_id,
        tool_call_id="call-1",
    )
    continued = await ai.responder.answered(answer)
    sent = only(continued, MessageSent)
    assert (sent.text, sent.in_reply_to) == ("Order 7 shipped yesterday.", route.message_id)
    # The model saw the answer as the tool call's result.
    assert any(
        m.get("role") == "tool" and m["content"] == "Yes, yesterday." for m in ai.model.calls[1]
    )
    assert question.request_id in ai.requests.closed


async def test_an_answer_to_no_open_question_is_rejected() -> None:
    ai = Setup()
    route, _ = await Setup(reply("x")).route("hi")
    stray = HumanResponded.caused_by(
        route,
        kind="answer",
        ticket_id="t",
        message_id=uuid.uuid4(),
        text="?",
        agent=AGENT,
        request_id=uuid.uuid4(),
        tool_call_id="none",
    )
    with pytest.raises(Rejected) as refused:
        await ai.responder.answered(stray)
    assert refused.value.code == "unknown_request"


async def test_low_confidence_hands_the_thread_to_people_with_the_suggestion() -> None:
    ai = Setup(reply("Maybe 9?", confidence=0.3))
    _, events = await ai.route("When do you open?")
    escalation = only(events, ToolHumanRequested)
    assert (escalation.kind, escalation.suggestion) == ("escalation", "Maybe 9?")
    [assigned] = ai.assigned()
    assert (assigned.owner, assigned.previous_owner) == ("human", "ai")


async def test_an_unavailable_model_hands_the_thread_to_people() -> None:
    ai = Setup(ModelUnavailableError("503"))
    _, events = await ai.route("hello")
    assert only(events, ToolHumanRequested).reason == "llm_unavailable"
    assert len(ai.assigned()) == 1


async def test_a_draft_is_held_and_only_the_approved_text_is_sent() -> None:
    ai = Setup(reply("You get a refund of 10 euros."))
    _, events = await ai.route("Can I have a refund?")
    request = only(events, ToolHumanRequested)
    assert request.kind == "approval"
    assert not [e for e in events if isinstance(e, MessageSent)]
    assert request.draft_message_id is not None

    approved = DraftApproved.caused_by(
        request,
        draft_message_id=request.draft_message_id,
        ticket_id="ticket-2",
        text="You get a refund of 12 euros.",
        edited=True,
        agent=AGENT,
    )
    [sent] = await ai.responder.approved(approved)
    assert isinstance(sent, MessageSent)
    assert sent.text == "You get a refund of 12 euros."
    # Handled again (a crash before its output was saved): the same message.sent, which
    # gateways show once, and not a second approval.
    [again] = await ai.responder.approved(approved)
    assert isinstance(again, MessageSent)
    assert (again.event_id, again.message_id, again.text) == (
        sent.event_id,
        sent.message_id,
        sent.text,
    )


async def test_a_rejected_draft_is_written_again_once_then_handed_over() -> None:
    ai = Setup(reply("Refund: no."), reply("Refund: still no."))
    _, events = await ai.route("Refund please")
    first = only(events, ToolHumanRequested)

    def rejection(request: ToolHumanRequested) -> DraftRejected:
        assert request.draft_message_id is not None
        return DraftRejected.caused_by(
            request,
            draft_message_id=request.draft_message_id,
            ticket_id="t",
            review="too harsh",
            agent=AGENT,
        )

    again = await ai.responder.rejected(rejection(first))
    second = only(again, ToolHumanRequested)
    assert second.kind == "approval"
    assert "too harsh" in ai.model.calls[1][1]["content"]

    handed = await ai.responder.rejected(rejection(second))
    assert only(handed, ToolHumanRequested).kind == "escalation"
    assert len(ai.assigned()) == 1


async def test_past_the_escalation_limit_the_ai_keeps_the_thread_and_answers() -> None:
    ai = Setup(reply("Maybe 9?", confidence=0.3), per_thread=0)
    _, events = await ai.route("When do you open?")
    sent = only(events, MessageSent)
    assert sent.text == "Maybe 9?"
    assert ai.assigned() == []
    stored = await ai.conversations.get_message(sent.message_id)
    assert stored is not None
    assert "escalation limit reached" in stored.metadata["kept_by_limit"]


async def test_past_the_limit_a_kept_reply_still_passes_the_approval_gate() -> None:
    ai = Setup(reply("A refund? Perhaps.", confidence=0.3), per_thread=0)
    _, events = await ai.route("Can I get a refund?")
    assert only(events, ToolHumanRequested).kind == "approval"
    assert ai.assigned() == []


async def test_past_the_limit_no_colleague_is_asked_and_the_model_is_told() -> None:
    ask = ToolCall("call-1", "ask_human", {"question": "Is order 7 shipped?", "context": "c"})
    ai = Setup(calls(ask), reply("I cannot confirm that right now."), per_thread=0)
    _, events = await ai.route("Where is order 7?")
    assert not [e for e in events if isinstance(e, ToolHumanRequested)]
    assert only(events, MessageSent).text == "I cannot confirm that right now."
    told = [m for m in ai.model.calls[1] if m.get("role") == "tool"]
    assert "escalation limit is reached" in told[0]["content"]


async def test_past_the_limit_the_escalate_tool_hands_nothing_over() -> None:
    escalate = ToolCall("call-2", "escalate", {"reason": "angry"})
    ai = Setup(calls(escalate), reply("I am sorry; let me help."), per_thread=0)
    _, events = await ai.route("This is terrible")
    assert ai.assigned() == []
    assert only(events, MessageSent).text == "I am sorry; let me help."


async def test_a_reply_finished_after_people_took_the_thread_over_is_held_as_a_draft() -> None:
    ai = Setup(reply("We open at 9."))
    conversations = ai.conversations
    writing = ai.model.complete

    async def taken_over_while_writing(
        messages: Sequence[Any], tools: Sequence[Any], **_: Any
    ) -> Completion:
        # A supervisor takes the conversation over while the model is writing.
        [thread] = conversations.threads.values()
        cause = MessageReceived.first(thread_id=thread.thread_id, message_id=uuid.uuid4(), text="x")
        await conversations.assign(
            thread,
            owner="human",
            agent_id="agent-sue",
            reason="takeover: Sue took the conversation over from the AI",
            because=Because.of(cause, "takeover"),
        )
        return await writing(messages, tools)

    ai.model.complete = taken_over_while_writing  # type: ignore[method-assign]
    _, events = await ai.route("When do you open?")

    assert not [e for e in events if isinstance(e, MessageSent)]
    approval = only(events, ToolHumanRequested)
    assert (approval.kind, approval.draft_text) == ("approval", "We open at 9.")
    assert approval.reason == "a person took the conversation over"
    draft = await conversations.get_message(approval.draft_message_id)
    assert draft is not None
    assert (draft.status, draft.visible_to_user) == ("pending_approval", False)
