"""The summary of a new ticket for the agent: what the model is shown, the structured answer
it must give (retried like every model call, counted under caller ``summary``), and a model
failure that leaves the ticket without a summary instead of stopping anything."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import openai
import pytest
from prometheus_client import REGISTRY

from baton_ai_responder.llm import ModelUnavailableError
from baton_ai_responder.summary import (
    SUMMARY_FORMAT,
    SUMMARY_INSTRUCTIONS,
    OpenAISummarizer,
    summary_request,
)
from baton_ai_responder.usecases import Summaries
from baton_contracts import TicketOpened, TicketSummarized, TicketSummary
from baton_conversations import Message
from tests.support.memory import MemoryConversations

SUMMARY = TicketSummary(issue="Order 7 is late.", tried="The AI asked shipping.", mood="neutral")


class FakeSummarizer:
    def __init__(self, *answers: TicketSummary | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[Sequence[Any]] = []

    async def summarize(self, messages: Sequence[Any]) -> TicketSummary:
        self.requests.append(messages)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def thread_with_history(conversations: MemoryConversations) -> str:
    thread = await conversations.open_thread(
        user_id="u1", channel="web", department="support", metadata={}
    )
    said = [
        Message(uuid.uuid4(), thread.thread_id, "user", "Where is order 7? This is ridiculous!"),
        Message(
            uuid.uuid4(),
            thread.thread_id,
            "assistant",
            [
                {
                    "type": "tool-call",
                    "tool_call_id": "call-1",
                    "tool_name": "ask_human",
                    "args": {"question": "Did order 7 ship?"},
                }
            ],
            provider="openai",
            visible_to_user=False,
        ),
        Message(
            uuid.uuid4(),
            thread.thread_id,
            "tool",
            [
                {
                    "type": "tool-result",
                    "tool_call_id": "call-1",
                    "tool_name": "ask_human",
                    "result": "It left on Monday.",
                }
            ],
            agent_name="Alex",
            provider="human",
            visible_to_user=False,
        ),
        Message(uuid.uuid4(), thread.thread_id, "assistant", "It shipped on Monday.", "Baton AI"),
        Message(uuid.uuid4(), thread.thread_id, "assistant", "Voucher?", status="rejected"),
        Message(uuid.uuid4(), thread.thread_id, "assistant", "Hi, Sam here.", "Sam", "human"),
    ]
    for message in said:
        await conversations.append(message)
    return thread.thread_id


def opened(thread_id: str) -> TicketOpened:
    return TicketOpened.first(
        thread_id=thread_id,
        ticket_id="ticket-1",
        kind="escalation",
        message_id=uuid.uuid4(),
        priority=10,
        reason="low confidence",
    )


async def test_the_model_reads_the_conversation_as_a_transcript_to_summarise() -> None:
    conversations = MemoryConversations()
    thread_id = await thread_with_history(conversations)
    history = await conversations.window(thread_id, limit=20)

    system, user = summary_request(history, kind="escalation", reason="low confidence")

    assert system == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    assert user["role"] == "user"
    assert user["content"] == (
        "The AI assistant handed the conversation to people. Why: low confidence\n\n"
        "Transcript:\n"
        "Customer: Where is order 7? This is ridiculous!\n"
        "AI assistant asked a colleague: Did order 7 ship?\n"
        "Colleague Alex answered: It left on Monday.\n"
        "AI assistant: It shipped on Monday.\n"
        "AI assistant's draft (rejected, never sent): Voucher?\n"
        "Agent Sam: Hi, Sam here."
    )


async def test_a_new_ticket_is_summarised_once_per_event() -> None:
    conversations = MemoryConversations()
    thread_id = await thread_with_history(conversations)
    summarizer = FakeSummarizer(SUMMARY, SUMMARY)
    summaries = Summaries(conversations=conversations, summarizer=summarizer, history_window=3)
    event = opened(thread_id)

    [summarized] = await summaries.opened(event)

    assert isinstance(summarized, TicketSummarized)
    assert (summarized.ticket_id, summarized.summary, summarized.thread_id) == (
        "ticket-1",
        SUMMARY,
        thread_id,
    )
    assert (summarized.causation_id, summarized.correlation_id) == (
        event.event_id,
        event.correlation_id,
    )
    # The thread's recent messages only (the window), oldest first.
    transcript = summarizer.requests[0][1]["content"]
    assert "Customer:" not in transcript
    assert transcript.endswith(
        "AI assistant: It shipped on Monday.\n"
        "AI assistant's draft (rejected, never sent): Voucher?\n"
        "Agent Sam: Hi, Sam here."
    )
    again = await summaries.opened(event)
    assert [e.event_id for e in again] == [summarized.event_id]


async def test_a_model_failure_leaves_the_ticket_without_a_summary() -> None:
    conversations = MemoryConversations()
    thread_id = await thread_with_history(conversations)
    summarizer = FakeSummarizer(ModelUnavailableError("503 three times"))
    summaries = Summaries(conversations=conversations, summarizer=summarizer, history_window=20)
    failed = REGISTRY.get_sample_value("baton_ai_summaries_total", {"outcome": "failed"}) or 0

    assert await summaries.opened(opened(thread_id)) == []
    assert REGISTRY.get_sample_value("baton_ai_summaries_total", {"outcome": "failed"}) == (
        failed + 1
    )


async def test_summaries_can_be_turned_off() -> None:
    conversations = MemoryConversations()
    thread_id = await thread_with_history(conversations)
    summarizer = FakeSummarizer()
    summaries = Summaries(
        conversations=conversations, summarizer=summarizer, history_window=20, enabled=False
    )
    assert await summaries.opened(opened(thread_id)) == []
    assert summarizer.requests == []


# ------------------------------------------------------------------ the model call


class ScriptedClient:
    """Answers each call with the next content, or raises the next error."""

    def __init__(self, *answers: str | Exception) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    async def post(self, path: str, *, body: dict[str, Any], **_: Any) -> Any:
        assert path == "/chat/completions"
        self.bodies.append(body)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return SimpleNamespace(
            model="m",
            choices=[SimpleNamespace(message=SimpleNamespace(content=answer, tool_calls=None))],
            usage=SimpleNamespace(prompt_tokens=120, completion_tokens=30),
        )


def calls(outcome: str) -> float:
    labels = {"caller": "summary", "outcome": outcome}
    return REGISTRY.get_sample_value("baton_llm_calls_total", labels) or 0.0


def tokens(kind: str) -> float:
    labels = {"caller": "summary", "kind": kind}
    return REGISTRY.get_sample_value("baton_llm_tokens_total", labels) or 0.0


async def test_output_that_is_no_summary_is_retried_and_the_calls_counted() -> None:
    client = ScriptedClient(
        '{"issue": "", "tried": "", "mood": "neutral"}',
        '{"issue": "Order 7 is late.", "tried": "", "mood": "sad"}',
        '{"issue": "  Order 7 is late.  ", "tried": "' + "x" * 2500 + '", "mood": "angry"}',
    )
    before = (calls("invalid_output"), calls("ok"), tokens("prompt"))
    summarizer = OpenAISummarizer(
        cast(openai.AsyncOpenAI, client), model="gpt-test", max_attempts=3, backoff_s=0
    )

    summary = await summarizer.summarize([{"role": "user", "content": "t"}])

    assert (summary.issue, len(summary.tried), summary.mood) == ("Order 7 is late.", 2000, "angry")
    assert (calls("invalid_output"), calls("ok"), tokens("prompt")) == (
        before[0] + 2,
        before[1] + 1,
        before[2] + 120,
    )
    assert client.bodies[0]["response_format"] == SUMMARY_FORMAT
    assert client.bodies[0]["model"] == "gpt-test"


async def test_a_model_that_fails_every_attempt_is_unavailable() -> None:
    request = SimpleNamespace(method="POST", url="http://model.test/v1/chat/completions")
    client = ScriptedClient(
        openai.APITimeoutError(request=cast(Any, request)),
        openai.APITimeoutError(request=cast(Any, request)),
    )
    summarizer = OpenAISummarizer(
        cast(openai.AsyncOpenAI, client), model="m", max_attempts=2, backoff_s=0
    )
    with pytest.raises(ModelUnavailableError, match="APITimeoutError"):
        await summarizer.summarize([])
    assert len(client.bodies) == 2
