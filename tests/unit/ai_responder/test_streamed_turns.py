"""Replies streamed as they are written: the real model adapter reading scripted chunks, the
turn deciding what may reach the user, and the deltas it publishes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from baton_ai_responder.llm import OpenAIChatModel
from baton_ai_responder.policy import ReplyPolicy
from baton_ai_responder.streaming import StreamSettings
from baton_ai_responder.tools import default_toolbox
from baton_ai_responder.turn import AiDeps, TurnConfig
from baton_ai_responder.usecases import Responder
from baton_contracts import (
    Event,
    MessageDelta,
    MessageReceived,
    MessageSent,
    RouteDecided,
    ToolHumanRequested,
)
from baton_conversations import Because, Message
from tests.support.memory import MemoryConversations, MemoryEscalations, MemoryPublisher

from .test_usecases import MemoryExecutions, MemoryRequests, only

Step = ChatCompletionChunk | Exception | Callable[[], Awaitable[None]]
"""What a scripted stream does next: send a chunk, fail, or run something meanwhile."""


def chunk(**delta: Any) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
    )


def usage(prompt: int, completion: int) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "scripted",
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )


def structured(reply: str, *, confidence: float = 0.9, first: bool = False) -> str:
    """The structured reply as a model writes it: decision fields first, unless ``first``
    puts the reply before them."""
    fields: dict[str, Any] = {"confidence": confidence, "requires_human": False, "reason": None}
    ordered = {"reply": reply, **fields} if first else {**fields, "reply": reply}
    return json.dumps(ordered)


def written(content: str, size: int = 3) -> list[Step]:
    """``content`` in pieces of ``size`` characters, then the usage."""
    pieces = [content[at : at + size] for at in range(0, len(content), size)]
    return [chunk(role="assistant", content=""), *(chunk(content=p) for p in pieces), usage(5, 7)]


def tool_call(name: str, arguments: dict[str, Any]) -> list[Step]:
    encoded = json.dumps(arguments)
    return [
        chunk(
            role="assistant",
            tool_calls=[
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": name}}
            ],
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": encoded[:5]}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": encoded[5:]}}]),
        usage(5, 5),
    ]


class ScriptedStream:
    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = steps
        self.closed = False

    async def __aiter__(self) -> Any:
        for step in self.steps:
            await asyncio.sleep(0)  # the publishing of deltas runs meanwhile
            if isinstance(step, Exception):
                raise step
            if isinstance(step, ChatCompletionChunk):
                yield step
            else:
                await step()

    async def close(self) -> None:
        self.closed = True


class ChunkClient:
    """Stands in for the SDK client: each call streams the next scripted answer, or when
    not asked to stream, answers with its content whole."""

    def __init__(self, *answers: Sequence[Step]) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    async def post(self, path: str, *, body: dict[str, Any], **options: Any) -> Any:
        assert path == "/chat/completions"
        self.bodies.append(body)
        steps = self.answers.pop(0)
        if options.get("stream"):
            return ScriptedStream(steps)
        content = "".join(
            step.choices[0].delta.content or ""
            for step in steps
            if isinstance(step, ChatCompletionChunk) and step.choices
        )
        message = {"role": "assistant", "content": content}
        return ChatCompletion.model_validate(
            {
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": "scripted",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
        )


def timeout() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=httpx2.Request("POST", "http://model/v1"))


class Streaming:
    """A responder whose model streams, with the deltas it publishes."""

    def __init__(
        self,
        *answers: Sequence[Step],
        topics: tuple[str, ...] = (),
        interval_s: float = 60.0,
        max_chars: int = 1000,
        deltas: Any = None,
    ) -> None:
        self.conversations = MemoryConversations()
        self.client = ChunkClient(*answers)
        self.deltas = deltas or MemoryPublisher()
        model = OpenAIChatModel(
            cast(openai.AsyncOpenAI, self.client), model="m", backoff_s=0, max_attempts=2
        )
        deps = AiDeps(
            conversations=self.conversations,
            escalations=MemoryEscalations(per_thread=3),
            requests=MemoryRequests(),
            model=model,
            tools=default_toolbox(),
            executions=MemoryExecutions(),
            config=TurnConfig(
                agent_name="Baton AI",
                system_prompt="be helpful",
                history_window=20,
                max_steps=3,
                reply_policy=ReplyPolicy(
                    confidence_threshold=0.7, approval_topics=topics, review_token_threshold=0
                ),
                streaming=StreamSettings(interval_s=interval_s, max_chars=max_chars),
            ),
            deltas=self.deltas,
        )
        self.responder = Responder(deps, rejection_fallback="human")
        self.thread_id = ""

    async def route(self, text: str) -> list[Event]:
        thread = await self.conversations.open_thread(
            user_id="u1", channel="web", department="support", metadata={}
        )
        self.thread_id = thread.thread_id
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
        return await self.responder.route(route)

    async def take_over(self) -> None:
        thread = await self.conversations.require_thread(self.thread_id)
        cause = MessageReceived.first(thread_id=thread.thread_id, message_id=uuid.uuid4(), text="x")
        await self.conversations.assign(
            thread,
            owner="human",
            agent_id="agent-sue",
            reason="takeover: Sue took the conversation over from the AI",
            because=Because.of(cause, "takeover"),
        )

    def sent_deltas(self) -> list[MessageDelta]:
        found: list[MessageDelta] = self.deltas.of_type(MessageDelta)
        return found


REPLY = 'We open at 9 — "sharp", Monday\\Friday.\nSee you! 😀'


async def test_a_confident_reply_streams_and_its_deltas_make_up_the_message() -> None:
    ai = Streaming(written(structured(REPLY)))
    events = await ai.route("When do you open?")
    sent = only(events, MessageSent)
    assert sent.text == REPLY
    deltas = ai.sent_deltas()
    # The first piece at once; the rest within the (long) interval, together, at the end.
    assert len(deltas) == 2
    assert [d.sequence for d in deltas] == [0, 1]
    assert "".join(d.text for d in deltas) == sent.text
    assert {d.message_id for d in deltas} == {sent.message_id}
    assert {(d.in_reply_to, d.agent_name, d.user_id, d.channel) for d in deltas} == {
        (sent.in_reply_to, "Baton AI", "u1", "web")
    }
    assert ai.client.bodies[0]["stream"] is True
    assert ai.client.bodies[0]["stream_options"] == {"include_usage": True}
    stored = await ai.conversations.get_message(sent.message_id)
    assert stored is not None
    assert stored.metadata["usage"]["total_tokens"] == 12  # from the usage chunk


async def test_no_delta_is_longer_than_the_limit() -> None:
    ai = Streaming(written(structured(REPLY), size=9), max_chars=5)
    sent = only(await ai.route("When do you open?"), MessageSent)
    deltas = ai.sent_deltas()
    assert all(len(d.text) <= 5 for d in deltas)
    assert [d.sequence for d in deltas] == list(range(len(deltas)))
    assert "".join(d.text for d in deltas) == sent.text


async def test_without_an_interval_pieces_still_coalesce_while_a_delta_is_published() -> None:
    ai = Streaming(written(structured("x" * 300), size=1), interval_s=0)
    sent = only(await ai.route("Hi"), MessageSent)
    deltas = ai.sent_deltas()
    assert "".join(d.text for d in deltas) == sent.text
    assert [d.sequence for d in deltas] == list(range(len(deltas)))


async def test_with_approval_topics_no_reply_streams_and_a_draft_shows_nothing() -> None:
    # A topic may still appear in a reply's last words: with topics on, the model is not
    # even asked to stream, and a reply about one is held whole for approval.
    ai = Streaming(
        written(structured("You will get a full refund within 5 days.")),
        written(structured("It ships tomorrow.")),
        topics=("refund",),
    )
    events = await ai.route("Where is my parcel?")
    approval = only(events, ToolHumanRequested)
    assert approval.kind == "approval"
    assert not [e for e in events if isinstance(e, MessageSent)]
    assert only(await ai.route("And my other parcel?"), MessageSent).text == "It ships tomorrow."
    assert ai.sent_deltas() == []
    assert all("stream" not in body for body in ai.client.bodies)


async def test_a_reply_that_ends_in_a_hand_off_streams_nothing() -> None:
    ai = Streaming(written(structured("Let me get a colleague for you.", confidence=0.3)))
    events = await ai.route("My order is wrong")
    assert only(events, ToolHumanRequested).kind == "escalation"
    assert not [e for e in events if isinstance(e, MessageSent)]
    assert ai.sent_deltas() == []


async def test_a_reply_written_before_its_decision_fields_goes_out_whole() -> None:
    ai = Streaming(written(structured("We open at 9.", first=True)))
    sent = only(await ai.route("When do you open?"), MessageSent)
    assert sent.text == "We open at 9."
    assert ai.sent_deltas() == []


async def test_a_step_that_calls_tools_streams_nothing_and_the_reply_after_it_does() -> None:
    ai = Streaming(
        tool_call("current_time", {}),
        written(structured("It is noon.")),
    )
    sent = only(await ai.route("What time is it?"), MessageSent)
    deltas = ai.sent_deltas()
    assert deltas[0].sequence == 0
    assert "".join(d.text for d in deltas) == "It is noon."
    assert {d.message_id for d in deltas} == {sent.message_id}


async def test_an_interrupted_attempt_is_streamed_again_from_sequence_zero() -> None:
    content = structured("First words, then the rest of the answer.")
    broken = [*written(content)[:30], timeout()]  # in the middle of the reply
    ai = Streaming(broken, written(content), interval_s=0)
    sent = only(await ai.route("Hi"), MessageSent)
    deltas = ai.sent_deltas()
    restarts = [n for n, d in enumerate(deltas) if d.sequence == 0]
    assert len(restarts) == 2
    last_attempt = deltas[restarts[1] :]
    assert [d.sequence for d in last_attempt] == list(range(len(last_attempt)))
    assert "".join(d.text for d in last_attempt) == sent.text
    assert "".join(d.text for d in deltas[: restarts[1]]) != sent.text


async def test_a_thread_taken_over_before_the_text_begins_holds_the_reply_unstreamed() -> None:
    steps = written(structured("We open at 9."))
    ai = Streaming()
    # People take the thread over while the model writes the decision fields.
    ai.client.answers = [[*steps[:3], lambda: ai.take_over(), *steps[3:]]]
    events = await ai.route("When do you open?")
    approval = only(events, ToolHumanRequested)
    assert (approval.kind, approval.reason) == ("approval", "a person took the conversation over")
    assert not [e for e in events if isinstance(e, MessageSent)]
    assert ai.sent_deltas() == []


async def test_a_takeover_while_the_text_streams_lets_the_reply_finish() -> None:
    content = structured("We open at 9 and close at 5 on weekdays.")
    steps = written(content)
    ai = Streaming()
    # People take the thread over once some of the reply has reached the user.
    ai.client.answers = [[*steps[:25], lambda: ai.take_over(), *steps[25:]]]
    events = await ai.route("When do you open?")
    sent = only(events, MessageSent)
    assert not [e for e in events if isinstance(e, ToolHumanRequested)]
    thread = await ai.conversations.require_thread(ai.thread_id)
    assert thread.owner == "human"
    deltas = ai.sent_deltas()
    assert deltas
    assert "".join(d.text for d in deltas) == sent.text


class BrokenPublisher(MemoryPublisher):
    async def publish(self, events: Any) -> None:
        raise ConnectionError("Kafka is away")


async def test_deltas_that_cannot_be_published_do_not_stop_the_reply() -> None:
    ai = Streaming(written(structured(REPLY)), deltas=BrokenPublisher())
    sent = only(await ai.route("When do you open?"), MessageSent)
    assert sent.text == REPLY
