"""Streamed replies end to end, through real Kafka and MongoDB: the scripted model streams at
a set pace, the ai-responder publishes ``message.delta``s, and ingest's thread stream sends
them to the gateway, then the whole message.

Replies stream only where no check on the whole text can hold them back (decision 19): the
session's pipeline has approval topics and a token limit, so these tests run on a second one
(``streaming_pipeline``), whose ai-responder has neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from baton_contracts import MessageDelta, MessageSent, RouteDecided, ToolHumanRequested
from baton_runtime import Document
from tests.support.pipeline import Pipeline, create_gateway
from tests.support.queue import token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

STREAM = "/v1/threads/{thread_id}/stream"
REPLY = 'Our hours are 9:00 to 17:00 "CET", Monday to Friday.\nSee you then! 😀 Anything else?'


@pytest.fixture
def streaming(streaming_pipeline: Pipeline) -> Pipeline:
    return streaming_pipeline


def streamed_rule(
    tok: str,
    reply: str,
    *,
    confidence: float = 0.95,
    tokens_per_s: float = 200,
    latency_ms: int | None = None,
) -> dict[str, Any]:
    """A reply written as a strict model writes it (decision fields first), at a pace."""
    rule: dict[str, Any] = {
        "name": f"streamed-{tok}",
        "match": {"last_user": tok, "schema": "assistant_reply"},
        "tokens_per_s": tokens_per_s,
        "respond": {
            "json": {
                "confidence": confidence,
                "requires_human": False,
                "reason": None,
                "reply": reply,
            }
        },
    }
    if latency_ms is not None:
        rule["latency_ms"] = latency_ms
    return rule


@dataclass(frozen=True)
class Sse:
    event: str
    id: str
    data: dict[str, Any]


@dataclass
class Listening:
    """What a thread stream delivered so far, in order."""

    events: list[Sse] = field(default_factory=list)
    comments: int = 0
    status: int = 0

    async def wait_for(self, match: Callable[[Sse], bool], *, timeout: float = 30.0) -> Sse:
        async def found() -> Sse | None:
            return next((e for e in self.events if match(e)), None)

        return await eventually(found, timeout=timeout, what="an event of the thread stream")


@asynccontextmanager
async def listening(pipeline: Pipeline, thread_id: str) -> AsyncIterator[Listening]:
    """The thread's stream, read while the block runs (opened when it begins)."""
    heard = Listening()
    url = pipeline.urls["ingest"] + STREAM.format(thread_id=thread_id)
    headers = {"Authorization": f"Bearer {pipeline.gateway['key']}"}
    opened = asyncio.Event()

    async def read() -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http,
            http.stream("GET", url, headers=headers) as response,
        ):
            heard.status = response.status_code
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    heard.comments += 1
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif fields:
                    heard.events.append(
                        Sse(fields["event"], fields["id"], json.loads(fields["data"]))
                    )
                    fields = {}

    reader = asyncio.create_task(read())
    await asyncio.wait(
        [reader, asyncio.create_task(opened.wait())], timeout=10, return_when="FIRST_COMPLETED"
    )
    if reader.done():
        reader.result()
    assert opened.is_set(), "the thread stream did not open"
    try:
        yield heard
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


def deltas_of(pipeline: Pipeline, thread_id: str) -> list[MessageDelta]:
    return pipeline.recorder.events(MessageDelta, in_thread(thread_id))


async def all_deltas(pipeline: Pipeline, thread_id: str, text: str) -> list[MessageDelta]:
    """The thread's deltas once they make up ``text``. They are published before the
    reply's ``message.sent``; on another topic, they may be read a moment after it."""

    async def complete() -> list[MessageDelta] | None:
        deltas = deltas_of(pipeline, thread_id)
        return deltas if "".join(d.text for d in deltas) == text else None

    return await eventually(complete, timeout=5, what="deltas that make up the reply")


async def test_the_deltas_of_a_reply_make_up_its_message(streaming: Pipeline) -> None:
    tok = token()
    # Written over about half a second: a busy machine's slow read of the thread as the text
    # begins must not let the whole reply arrive before the first piece goes out.
    await streaming.script(streamed_rule(tok, REPLY, tokens_per_s=40))
    thread_id = await streaming.new_thread()
    asked = await streaming.say(thread_id, f"When are you open? {tok}")

    [sent] = await streaming.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == REPLY
    deltas = await all_deltas(streaming, thread_id, sent.text)
    assert 2 <= len(deltas) < len(REPLY) / 2, "coalesced, but more than one piece"
    assert [d.sequence for d in deltas] == list(range(len(deltas)))
    assert "".join(d.text for d in deltas) == sent.text
    assert {(d.message_id, d.in_reply_to, d.agent_name) for d in deltas} == {
        (sent.message_id, asked, "Baton AI")
    }
    assert {d.correlation_id for d in deltas} == {sent.correlation_id}


async def test_the_thread_stream_sends_the_deltas_in_order_then_the_message(
    streaming: Pipeline,
) -> None:
    tok = token()
    await streaming.script(streamed_rule(tok, REPLY))
    thread_id = await streaming.new_thread()
    async with listening(streaming, thread_id) as heard:
        asked = await streaming.say(thread_id, f"When are you open? {tok}")
        whole = await heard.wait_for(lambda e: e.event == "message")

    message_id = whole.data["message_id"]
    assert whole.id == message_id
    assert whole.data == {
        "message_id": message_id,
        "in_reply_to": str(asked),
        "text": REPLY,
        "agent_name": "Baton AI",
        "provider": "openai",
        "notice": None,
    }
    *pieces, last = heard.events
    assert last == whole
    assert pieces, "the reply streamed before it came whole"
    assert [p.event for p in pieces] == ["delta"] * len(pieces)
    assert [p.data["sequence"] for p in pieces] == list(range(len(pieces)))
    assert [p.id for p in pieces] == [f"{message_id}:{n}" for n in range(len(pieces))]
    assert {(p.data["message_id"], p.data["in_reply_to"]) for p in pieces} == {
        (message_id, str(asked))
    }
    assert {tuple(p.data) for p in pieces} == {
        ("message_id", "in_reply_to", "sequence", "text", "agent_name")
    }
    assert "".join(p.data["text"] for p in pieces) == REPLY


async def test_nothing_of_a_reply_that_ends_in_a_hand_off_is_streamed(
    streaming: Pipeline,
) -> None:
    tok = token()
    await streaming.script(streamed_rule(tok, "I am not sure; maybe on Tuesday?", confidence=0.3))
    thread_id = await streaming.new_thread()
    async with listening(streaming, thread_id) as heard:
        await streaming.say(thread_id, f"When does my parcel come? {tok}")
        [request] = await streaming.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
        assert request.kind == "escalation"
        await asyncio.sleep(1.0)  # time for any delta to have shown up
    assert deltas_of(streaming, thread_id) == []
    assert [e.event for e in heard.events if e.event == "delta"] == []


async def test_a_reply_held_for_approval_is_not_streamed(pipeline: Pipeline) -> None:
    # The session's pipeline has approval topics: any reply could name one in its last
    # words, so none streams, and this one, about a refund, is held whole.
    tok = token()
    await pipeline.script(streamed_rule(tok, "Yes, you get a full refund of 80 EUR."))
    thread_id = await pipeline.new_thread()
    async with listening(pipeline, thread_id) as heard:
        await pipeline.say(thread_id, f"Can I have my money back? {tok}")
        [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
        assert request.kind == "approval"
        await asyncio.sleep(1.0)
    assert deltas_of(pipeline, thread_id) == []
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []
    assert heard.events == []


async def model_call(pipeline: Pipeline, tok: str) -> dict[str, Any]:
    """The scripted model's record of the call its rule for ``tok`` answered."""
    response = await pipeline.model.get("/_calls", params={"rule": f"streamed-{tok}"})
    [call] = response.json()["calls"]
    found: dict[str, Any] = call
    return found


async def take_over(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document], thread: str
) -> None:
    """People own the thread now (as a takeover through the console leaves it)."""
    await mongo_client[pipeline.mongo.database]["threads"].update_one(
        {"_id": thread}, {"$set": {"owner": "human"}}
    )


async def test_a_thread_taken_over_before_the_reply_begins_holds_it_unstreamed(
    streaming: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    tok = token()
    await streaming.script(streamed_rule(tok, REPLY, latency_ms=1500))
    thread_id = await streaming.new_thread()
    await streaming.say(thread_id, f"When are you open? {tok}")
    await streaming.recorder.wait_for(RouteDecided, in_thread(thread_id))
    await take_over(streaming, mongo_client, thread_id)
    assert (await model_call(streaming, tok))["outcome"] is None  # not writing yet

    [request] = await streaming.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert (request.kind, request.draft_text) == ("approval", REPLY)
    assert request.reason == "a person took the conversation over"
    await asyncio.sleep(1.0)
    assert deltas_of(streaming, thread_id) == []
    assert streaming.recorder.events(MessageSent, in_thread(thread_id)) == []


async def test_a_takeover_while_the_reply_streams_lets_it_finish(
    streaming: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    tok = token()
    await streaming.script(streamed_rule(tok, REPLY, tokens_per_s=10))
    thread_id = await streaming.new_thread()
    await streaming.say(thread_id, f"When are you open? {tok}")
    await streaming.recorder.wait_for(MessageDelta, in_thread(thread_id))
    await take_over(streaming, mongo_client, thread_id)  # the user is reading it already
    assert (await model_call(streaming, tok))["outcome"] == "streaming"  # still writing

    [sent] = await streaming.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == REPLY
    await all_deltas(streaming, thread_id, REPLY)
    assert streaming.recorder.events(ToolHumanRequested, in_thread(thread_id)) == []


async def test_the_stream_is_the_gateway_s_own(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    url = STREAM.format(thread_id=thread_id)
    other = await create_gateway(pipeline.urls["ingest"], name="other", channels=["*"])
    async with httpx.AsyncClient(base_url=pipeline.urls["ingest"], timeout=10) as http:
        refused = await http.get(url, headers={"Authorization": f"Bearer {other['key']}"})
        assert (refused.status_code, refused.json()["code"]) == (404, "unknown_thread")
        unknown = await http.get(
            STREAM.format(thread_id="no-such-thread"),
            headers={"Authorization": f"Bearer {pipeline.gateway['key']}"},
        )
        assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_thread")
        anonymous = await http.get(url)
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    async with listening(pipeline, thread_id) as heard:
        assert heard.status == 200
