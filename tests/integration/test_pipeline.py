"""The AI side of the conversation flows, through real Kafka, MongoDB and HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from baton_contracts import (
    DraftApproved,
    DraftRejected,
    HumanResponded,
    MessageReceived,
    MessageSent,
    MessageSubmitted,
    RouteDecided,
    ThreadAssigned,
    ToolHumanRequested,
    topics,
)
from baton_conversations import Conversations
from baton_ingest.domain import Submission
from baton_ingest.usecases import Ingest
from baton_runtime import Document
from baton_runtime.dlq import replay
from tests.support.memory import DeadPublisher
from tests.support.pipeline import AGENT, Pipeline
from tests.support.queue import reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually


async def test_ai_first_touch(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "We open at 9 am."))
    thread_id = await pipeline.new_thread()
    message_id = await pipeline.say(thread_id, f"When do you open? {tok}")

    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    assert (route.handler, route.message_id) == ("ai", message_id)
    assert route.strategy in ("default", "classifier")
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "We open at 9 am."
    assert (sent.in_reply_to, sent.provider, sent.agent_name) == (message_id, "openai", "Baton AI")
    assert sent.correlation_id == route.correlation_id

    body = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()
    assert [(m["role"], m["text"]) for m in body["messages"]] == [
        ("user", f"When do you open? {tok}"),
        ("assistant", "We open at 9 am."),
    ]
    assert body["messages"][1]["provider"] == "openai"


async def test_a_burst_across_threads_is_answered_once_each_and_in_order(
    pipeline: Pipeline,
) -> None:
    # Arriving together, the records reach each consumer in batches: threads are worked on
    # at the same time, each thread's records one after the other.
    tok = token()
    await pipeline.script(reply_rule(tok, "Noted."))
    threads = [await pipeline.new_thread() for _ in range(6)]

    async def chat(thread_id: str) -> list[uuid.UUID]:
        return [await pipeline.say(thread_id, f"Question {n} {tok}") for n in range(4)]

    said = dict(zip(threads, await asyncio.gather(*(chat(t) for t in threads)), strict=True))
    mine = set(threads)
    await pipeline.recorder.wait_for(
        MessageSent, lambda e: e.thread_id in mine, count=24, timeout=60
    )
    await asyncio.sleep(1)  # time for a second answer to any of them to show up
    sent = pipeline.recorder.events(MessageSent, lambda e: e.thread_id in mine)
    for thread_id, messages in said.items():
        replies = [e.in_reply_to for e in sent if e.thread_id == thread_id]
        assert replies == messages, f"thread {thread_id}: replies to {replies}, said {messages}"


def queue_skips(pipeline: Pipeline) -> float:
    value = REGISTRY.get_sample_value(
        "baton_events_handled_total",
        {
            "service": "baton-human-queue",
            "topic": pipeline.kafka.topic(topics.ROUTE_DECIDED),
            "outcome": "skipped",
        },
    )
    return value or 0.0


async def test_a_route_is_worked_on_only_by_the_service_it_names(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    skips_before = queue_skips(pipeline)
    tok = token()
    await pipeline.script(reply_rule(tok, "We open at 9 am."))
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"When do you open? {tok}")
    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))

    handled = mongo_client[pipeline.mongo.database]["handled_events"]
    worked = await handled.find_one({"_id": f"baton-ai-responder:{route.event_id}"})
    assert worked is not None
    assert not worked.get("outbox")  # its output is out

    async def skipped_by_the_queue() -> bool:
        return queue_skips(pipeline) > skips_before

    # The queue declines the AI's route without reading or writing anything for it.
    assert await eventually(skipped_by_the_queue, what="the queue skipping the AI's route")
    assert await handled.find_one({"_id": f"baton-human-queue:{route.event_id}"}) is None


async def test_owner_flag_routes_to_human_and_never_to_ai(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "the AI must not say this"))
    thread_id = await pipeline.new_thread()
    await mongo_client[pipeline.mongo.database]["threads"].update_one(
        {"_id": thread_id}, {"$set": {"owner": "human"}}
    )
    await pipeline.say(thread_id, f"Hello again {tok}")

    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    assert (route.handler, route.strategy) == ("human", "owner_flag")
    assert await model_calls(pipeline, tok, "assistant_reply") == []
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []


async def model_calls(pipeline: Pipeline, tok: str, schema: str) -> list[dict[str, Any]]:
    """Requests the model received about ``tok`` that asked for ``schema``."""
    response = await pipeline.model.get("/_calls", params={"contains": tok})
    calls = response.json()["calls"]
    return [
        c
        for c in calls
        if (c["request"].get("response_format") or {}).get("json_schema", {}).get("name") == schema
    ]


async def test_rule_routes_to_human_and_assigns_the_thread(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"I want to talk to a human please {token()}")

    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    assert (route.handler, route.strategy) == ("human", "rule")
    assert "asks-for-human" in route.reason
    [assigned] = await pipeline.recorder.wait_for(ThreadAssigned, in_thread(thread_id))
    assert (assigned.owner, assigned.previous_owner) == ("human", "ai")
    thread = (await pipeline.ingest.get(f"/v1/threads/{thread_id}")).json()
    assert thread["owner"] == "human"


async def test_vip_tier_rule(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread(metadata={"tier": "vip"})
    await pipeline.say(thread_id, f"Where is my parcel? {token()}")
    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    assert (route.handler, route.strategy, route.user_tier) == ("human", "rule", "vip")


async def test_classifier_routes_to_human(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "route_classification"},
            "respond": {
                "json": {"handler": "human", "reason": "furious customer", "confidence": 0.92}
            },
        }
    )
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"This is the third time I write! {tok}")
    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    assert (route.handler, route.strategy, route.reason) == (
        "human",
        "classifier",
        "furious customer",
    )
    assert route.confidence == 0.92


async def test_classifier_failure_falls_back_to_the_default(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "route_classification"},
            "respond": {"error": {"status": 500, "message": "classifier down"}},
        },
        reply_rule(tok, "Still here to help."),
    )
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"Can you help? {tok}")
    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    assert (route.handler, route.strategy) == ("ai", "default")
    assert route.reason.startswith("classifier failed")
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Still here to help."


async def test_ask_human_then_the_answer_continues_the_turn(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    tok = token()
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {
                "tool_calls": [
                    {
                        "name": "ask_human",
                        "arguments": {"question": "Did order 42 ship?", "context": "order 42"},
                    }
                ]
            },
        },
        reply_rule(tok, "Good news: {tool_result}", 0.9, has_tool_result=True),
    )
    thread_id = await pipeline.new_thread()
    message_id = await pipeline.say(thread_id, f"Where is order 42? {tok}")

    [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert (request.kind, request.question, request.message_id) == (
        "question",
        "Did order 42 ship?",
        message_id,
    )
    assert request.tool_call_id
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []

    answer = HumanResponded.caused_by(
        request,
        kind="answer",
        ticket_id="ticket-1",
        message_id=uuid.uuid4(),
        text="It shipped on Monday.",
        agent=AGENT,
        request_id=request.request_id,
        tool_call_id=request.tool_call_id,
        response_time_ms=4200,
    )
    await pipeline.publish(answer)
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Good news: It shipped on Monday."
    assert sent.in_reply_to == message_id

    tool_message = await mongo_client[pipeline.mongo.database]["messages"].find_one(
        {"thread_id": thread_id, "role": "tool"}
    )
    assert tool_message is not None
    assert tool_message["metadata"]["provider"] == "human"
    assert tool_message["metadata"]["provider_metadata"]["human"] == {
        "agent_id": "agent-alex",
        "name": "Alex",
        "department": "support",
        "response_time_ms": 4200,
    }
    assert tool_message["content"][0]["result"] == "It shipped on Monday."
    visible = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [m["role"] for m in visible] == ["user", "assistant"]


async def test_low_confidence_escalates_with_the_suggestion(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "Maybe try turning it off and on?", 0.3))
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"My router blinks red {tok}")

    [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert request.kind == "escalation"
    assert request.suggestion == "Maybe try turning it off and on?"
    assert request.confidence == 0.3
    assert "low confidence" in request.reason
    [assigned] = await pipeline.recorder.wait_for(ThreadAssigned, in_thread(thread_id))
    assert assigned.owner == "human"
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []


async def test_approval_draft_is_hidden_until_approved_with_an_edit(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "Your refund of 20 EUR is on its way."))
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"I want a refund {tok}")

    [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert (request.kind, request.draft_text) == (
        "approval",
        "Your refund of 20 EUR is on its way.",
    )
    assert request.reason == "sensitive topic: refund"
    visible = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [m["role"] for m in visible] == ["user"]

    assert request.draft_message_id is not None
    await pipeline.publish(
        DraftApproved.caused_by(
            request,
            draft_message_id=request.draft_message_id,
            ticket_id="ticket-approval",
            text="Your refund of 25 EUR is on its way.",
            edited=True,
            agent=AGENT,
        )
    )
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Your refund of 25 EUR is on its way."
    assert sent.message_id == request.draft_message_id
    visible = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [m["text"] for m in visible][1:] == ["Your refund of 25 EUR is on its way."]


async def test_rejected_draft_is_regenerated_then_handed_to_a_human(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(
        reply_rule(
            tok, "Better: refund approved for order 7.", any_message="rejected your previous draft"
        ),
        reply_rule(tok, "Refund? Sure, whatever."),
    )
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"refund please {tok}")

    [first] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert first.draft_text == "Refund? Sure, whatever."
    assert first.draft_message_id is not None
    await pipeline.publish(
        DraftRejected.caused_by(
            first,
            draft_message_id=first.draft_message_id,
            ticket_id="t1",
            review="Too casual",
            agent=AGENT,
        )
    )
    requests = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id), count=2)
    second = requests[1]
    assert (second.kind, second.draft_text) == ("approval", "Better: refund approved for order 7.")
    assert second.draft_message_id is not None
    await pipeline.publish(
        DraftRejected.caused_by(
            second,
            draft_message_id=second.draft_message_id,
            ticket_id="t2",
            review="Still no",
            agent=AGENT,
        )
    )
    requests = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id), count=3)
    assert requests[2].kind == "escalation"
    assert requests[2].reason == "draft rejected: Still no"
    assert requests[2].suggestion == "Better: refund approved for order 7."
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []


async def test_complex_answer_goes_through_approval(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "step " * 2000))
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"Explain the whole setup {tok}")
    [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert request.kind == "approval"
    assert request.reason.startswith("complex answer")


async def test_respond_false_stores_without_a_reply(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "answer to the second message"))
    thread_id = await pipeline.new_thread()
    silent_id = await pipeline.say(thread_id, f"just a note {tok}", respond=False)
    await pipeline.say(thread_id, f"now answer {tok}")

    # One thread's events are processed in order: once the second message is answered,
    # the first one has been seen and deliberately left alone.
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "answer to the second message"
    [silent] = pipeline.recorder.events(MessageReceived, lambda e: e.message_id == silent_id)
    assert silent.respond is False
    assert [r.message_id for r in pipeline.recorder.events(RouteDecided, in_thread(thread_id))] != [
        silent_id
    ]
    assert silent_id not in {r.message_id for r in pipeline.recorder.events(RouteDecided)}
    visible = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [m["text"] for m in visible] == [
        f"just a note {tok}",
        f"now answer {tok}",
        "answer to the second message",
    ]


async def test_idempotent_resubmission(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "once"))
    thread_id = await pipeline.new_thread()
    first = await pipeline.say(thread_id, f"hi {tok}", idempotency_key="key-1")
    second = await pipeline.say(thread_id, f"hi {tok}", idempotency_key="key-1")
    assert first == second
    conflict = await pipeline.ingest.post(
        f"/v1/threads/{thread_id}/messages",
        json={"text": "something else"},
        headers={"Idempotency-Key": "key-1"},
    )
    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.json()["detail"]

    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    await pipeline.say(thread_id, f"second {tok}")  # a later message proves nothing else came
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id), count=2)
    visible = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [m["role"] for m in visible] == ["user", "assistant", "user", "assistant"]
    replies = [
        e
        for e in pipeline.recorder.events(MessageSent, in_thread(thread_id))
        if e.in_reply_to == first
    ]
    assert len(replies) == 1


async def test_replayed_route_decision_sends_no_second_reply(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "only once"))
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"hello {tok}")
    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))

    await pipeline.publish(route)  # the broker redelivers: same event, same id
    await pipeline.say(thread_id, f"again {tok}")
    replies = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id), count=2)
    await asyncio.sleep(0.5)
    replies = pipeline.recorder.events(MessageSent, in_thread(thread_id))
    assert len({r.message_id for r in replies}) == len(replies) == 2
    assert sent.event_id in {r.event_id for r in replies}


@pytest.mark.parametrize(
    ("respond", "error"),
    [
        ({"error": {"status": 503, "message": "overloaded"}}, "InternalServerError"),
        ({"error": {"status": 429, "message": "slow down"}}, "RateLimitError"),
        ({"content": "this is not the JSON the schema asks for"}, "InvalidOutputError"),
    ],
    ids=["5xx", "429", "invalid-structured-output"],
)
async def test_llm_outage_hands_the_thread_to_a_human(
    pipeline: Pipeline, respond: dict[str, Any], error: str
) -> None:
    tok = token()
    await pipeline.script(
        {"match": {"last_user": tok, "schema": "assistant_reply"}, "respond": respond}
    )
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"anyone there? {tok}")
    [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert (request.kind, request.reason) == ("escalation", "llm_unavailable")
    assert error in (request.context or "")
    [assigned] = await pipeline.recorder.wait_for(ThreadAssigned, in_thread(thread_id))
    assert assigned.owner == "human"
    assert len(await model_calls(pipeline, tok, "assistant_reply")) == 3  # llm_max_attempts
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []


async def test_llm_timeout_hands_the_thread_to_a_human(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(
        {"match": {"last_user": tok, "schema": "assistant_reply"}, "respond": {"timeout": True}}
    )
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"hello? {tok}")
    [request] = await pipeline.recorder.wait_for(
        ToolHumanRequested, in_thread(thread_id), timeout=60
    )
    assert request.reason == "llm_unavailable"
    assert "APITimeoutError" in (request.context or "")


async def test_message_submitted_over_kafka_is_answered(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "Hello from Kafka."))
    thread_id = await pipeline.new_thread(user_id="u-k")
    submitted = MessageSubmitted.first(
        thread_id=thread_id, text=f"hi via kafka {tok}", user_id="u-k"
    )
    await pipeline.publish(submitted)
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Hello from Kafka."
    assert sent.correlation_id == submitted.correlation_id


async def test_bad_http_input_gets_a_clear_4xx(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    url = f"/v1/threads/{thread_id}/messages"
    cases = [
        (await pipeline.ingest.post(url, json={"text": "   "}), 422, "empty"),
        (await pipeline.ingest.post(url, json={"text": "x" * 4001}), 413, "limit is 4000"),
        (
            await pipeline.ingest.post("/v1/threads/nope/messages", json={"text": "hi"}),
            404,
            "does not exist",
        ),
        (
            await pipeline.ingest.post(
                url, content=b"{not json", headers={"content-type": "application/json"}
            ),
            422,
            "JSON",
        ),
        (await pipeline.ingest.post(url, json={"txt": "hi"}), 422, "text: Field required"),
        (await pipeline.ingest.post("/v1/threads", json={"channel": "web"}), 422, "user_id"),
    ]
    for response, status, fragment in cases:
        assert response.status_code == status, response.text
        assert fragment in response.json()["detail"], response.text
    visible = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert visible == []


async def test_bad_kafka_input_is_dead_lettered_and_the_partition_moves_on(
    pipeline: Pipeline,
) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "after the poison"))
    thread_id = await pipeline.new_thread()
    key = thread_id.encode()
    good = MessageSubmitted.first(thread_id=thread_id, text=f"fine {tok}")
    poison = [
        (b"{not json", "invalid_json"),
        (b'{"type": "message.unknown", "thread_id": "x"}', "unknown_type"),
        (
            MessageSubmitted.first(thread_id="no-such-thread", text="hi")
            .model_dump_json()
            .encode(),
            "unknown_thread",
        ),
        (
            MessageSubmitted.first(thread_id=thread_id, text="x" * 5000).model_dump_json().encode(),
            "text_too_long",
        ),
    ]
    for value, _ in poison:
        await pipeline.publish_raw(topics.MESSAGE_SUBMITTED, value, key=key)
    await pipeline.publish(good)

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "after the poison"
    dlq = topics.dead_letter_topic(topics.MESSAGE_SUBMITTED)
    letters = await pipeline.recorder.wait_for_raw(dlq, lambda s: s.key == key, count=len(poison))
    assert [s.headers["dlq-error-code"] for s in letters] == [code for _, code in poison]
    for letter, (value, _) in zip(letters, poison, strict=True):
        assert letter.value == value
        assert letter.headers["dlq-original-topic"] == pipeline.kafka.topic(
            topics.MESSAGE_SUBMITTED
        )
        assert int(letter.headers["dlq-original-offset"]) >= 0
        assert letter.headers["dlq-reason"]


async def test_escalations_past_the_per_user_limit_stay_with_the_ai(pipeline: Pipeline) -> None:
    user_id = f"flooder-{uuid.uuid4().hex[:6]}"
    decisions = []
    for _ in range(3):  # the test pipeline allows 2 escalations per user per hour
        thread_id = await pipeline.new_thread(user_id=user_id)
        await pipeline.say(thread_id, f"talk to a human {token()}")
        [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
        decisions.append(route)
    assert [(d.handler, d.strategy) for d in decisions] == [
        ("human", "rule"),
        ("human", "rule"),
        ("ai", "rate_limited"),
    ]
    assert "escalation limit reached: 2 for this user" in decisions[2].reason


async def test_the_ais_questions_to_people_count_against_the_users_escalation_limit(
    pipeline: Pipeline,
) -> None:
    """The AI's ask_human follows the same budget as the router: a user who opens thread
    after thread gets 2 questions to people (the test pipeline's limit), then the AI is
    told no colleague can be asked and answers by itself."""
    tok = token()
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {
                "tool_calls": [{"name": "ask_human", "arguments": {"question": "Shipped?"}}]
            },
        },
        reply_rule(tok, "About your parcel: {tool_result}", has_tool_result=True),
    )
    user_id = f"asker-{uuid.uuid4().hex[:6]}"
    for _ in range(2):
        thread_id = await pipeline.new_thread(user_id=user_id)
        await pipeline.say(thread_id, f"Where is my parcel? {tok}")
        [asked] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
        assert asked.kind == "question"
    thread_id = await pipeline.new_thread(user_id=user_id)
    await pipeline.say(thread_id, f"Where is my parcel? {tok}")
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert "the escalation limit is reached" in sent.text
    assert "2 for this user" in sent.text
    assert pipeline.recorder.events(ToolHumanRequested, in_thread(thread_id)) == []


async def test_stored_but_unpublished_message_is_published_by_the_recovery_sweep(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "recovered"))
    thread_id = await pipeline.new_thread()
    db = mongo_client[pipeline.mongo.database]
    # Stored, and the process could not publish its message.received: ingest's sweep does.
    crashed = Ingest(conversations=Conversations(db, DeadPublisher()), max_text_length=4000)
    accepted = await crashed.submit(Submission(thread_id=thread_id, text=f"lost? {tok}"))

    [received] = await pipeline.recorder.wait_for(MessageReceived, in_thread(thread_id))
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert received.message_id == accepted.message_id
    assert (sent.text, sent.in_reply_to) == ("recovered", received.message_id)
    stored = await db["messages"].find_one({"_id": str(received.message_id)})
    assert stored is not None
    assert not stored.get("outbox")


async def test_dead_letters_replay_after_the_fix(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    thread_id = f"late-{uuid.uuid4().hex[:8]}"
    early = MessageReceived.first(
        thread_id=thread_id, message_id=uuid.uuid4(), text="talk to a human please"
    )
    await pipeline.publish(early)  # the router does not know the thread yet
    dlq = pipeline.kafka.topic(topics.dead_letter_topic(topics.MESSAGE_RECEIVED))

    async def letter() -> bool:
        return any(s.topic == dlq and s.event == early for s in pipeline.recorder.records)

    await eventually(letter, what="the dead letter")
    dry = await replay(pipeline.kafka, topics.MESSAGE_RECEIVED, dry_run=True)
    assert [d.code for d in dry if d.reason.startswith(f"thread {thread_id!r}")] == [
        "unknown_thread"
    ]

    # The fix: the thread now exists. The replay sends the message through again.
    await Conversations(mongo_client[pipeline.mongo.database], DeadPublisher()).open_thread(
        user_id="u-late", channel="web", department=None, metadata={}, thread_id=thread_id
    )
    done = await replay(pipeline.kafka, topics.MESSAGE_RECEIVED)
    assert any(d.target == pipeline.kafka.topic(topics.MESSAGE_RECEIVED) for d in done)
    [route] = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id))
    assert (route.handler, route.strategy, route.message_id) == ("human", "rule", early.message_id)
    assert await replay(pipeline.kafka, topics.MESSAGE_RECEIVED, dry_run=True) == []
