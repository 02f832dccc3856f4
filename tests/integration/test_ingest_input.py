"""Hostile input to ingest, over HTTP and Kafka: each is refused with a 4xx (or dead-lettered
with its code) and stores nothing; none is a 500. Each of the inputs that gave a 500 before
is here."""

from __future__ import annotations

import json
import uuid

import pytest
from pymongo import AsyncMongoClient

from baton_contracts import MessageSubmitted, topics
from baton_runtime import Document
from tests.support.pipeline import Pipeline


def _json(body: object) -> bytes:
    """JSON as a careless client writes it: a lone surrogate as its escape, ``\\ud800``."""
    return json.dumps(body).encode()


async def _post(pipeline: Pipeline, path: str, body: object) -> tuple[int, dict[str, str]]:
    response = await pipeline.ingest.post(
        path, content=_json(body), headers={"content-type": "application/json"}
    )
    return response.status_code, response.json()


async def _nothing_stored(pipeline: Pipeline, thread_id: str) -> None:
    shown = await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")
    assert shown.json() == {"messages": []}


async def test_a_lone_surrogate_in_a_messages_text(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    status, body = await _post(pipeline, f"/v1/threads/{thread_id}/messages", {"text": "hi \ud800"})
    assert (status, body["code"]) == (422, "invalid_text")
    await _nothing_stored(pipeline, thread_id)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nul \x00 inside", "invalid_text"),
        ("escape \x1b[2J", "invalid_text"),
        ("x" * 4001, "text_too_long"),
    ],
)
async def test_control_characters_and_overlong_text(
    pipeline: Pipeline, text: str, code: str
) -> None:
    thread_id = await pipeline.new_thread()
    status, body = await _post(pipeline, f"/v1/threads/{thread_id}/messages", {"text": text})
    assert body["code"] == code
    assert status in (413, 422)
    await _nothing_stored(pipeline, thread_id)


@pytest.mark.parametrize(
    "metadata",
    [
        {"a\x00b": "v"},  # a NUL in a key
        {"\ud800": "v"},
        {"$where": "v"},
        {"note": "x" * 1001},
        {"note": "bell \x07"},
        {"note": "\udfff"},
        {"tier": "x" * 60},  # longer than events carry: it broke every message of its thread
        {f"k{i}": "v" for i in range(33)},
    ],
)
async def test_bad_thread_metadata(pipeline: Pipeline, metadata: dict[str, str]) -> None:
    status, body = await _post(pipeline, "/v1/threads", {"user_id": "u1", "metadata": metadata})
    assert (status, body["code"]) == (422, "invalid_metadata")


async def test_a_huge_metadata_value(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    user_id = f"huge-{uuid.uuid4().hex[:6]}"
    body = {"user_id": user_id, "metadata": {"note": "x" * 17_000_000}}
    status, answer = await _post(pipeline, "/v1/threads", body)
    # Refused for its value, or before, for the body's size, when a limit is configured.
    assert (status, answer["code"]) in {(422, "invalid_metadata"), (413, "body_too_large")}
    threads = mongo_client[pipeline.mongo.database]["threads"]
    assert await threads.find_one({"user_id": user_id}) is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"user_id": "a b"}, "invalid_id"),
        ({"user_id": "u\x00"}, "invalid_id"),
        ({"user_id": "\ud800"}, "invalid_id"),
        ({"user_id": "x" * 201}, "invalid_id"),
        ({"user_id": "u1", "channel": "we b"}, "invalid_channel"),
        ({"user_id": "u1", "department": "bad\x00"}, "invalid_department"),
    ],
)
async def test_bad_thread_fields(pipeline: Pipeline, body: dict[str, str], code: str) -> None:
    status, answer = await _post(pipeline, "/v1/threads", body)
    assert (status, answer["code"]) == (422, code)


async def test_bad_ids_in_a_message_request(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    url = f"/v1/threads/{thread_id}/messages"
    for path in ("/v1/threads/" + "x" * 129, "/v1/threads/a%20b/messages", "/v1/threads/%00"):
        response = await pipeline.ingest.get(path)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_id"), path
    key = await pipeline.ingest.post(
        url, json={"text": "hi"}, headers={"Idempotency-Key": "k" * 201}
    )
    assert (key.status_code, key.json()["code"]) == (422, "invalid_id")
    user = await pipeline.ingest.post(url, json={"text": "hi", "user_id": "a;b"})
    assert (user.status_code, user.json()["code"]) == (422, "invalid_id")
    await _nothing_stored(pipeline, thread_id)


async def test_bad_kafka_submissions_are_dead_lettered_with_their_code(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread(user_id="alice")
    key = thread_id.encode()
    fine = MessageSubmitted.first(thread_id=thread_id, text="fine")
    raw = json.loads(fine.model_dump_json())
    poison = [
        # The event's own schema refuses it, before ingest's rules.
        ({**raw, "event_id": str(uuid.uuid4()), "text": "lone \ud800"}, "invalid_field"),
        ({**raw, "event_id": str(uuid.uuid4()), "text": "nul \x00"}, "invalid_text"),
        ({**raw, "event_id": str(uuid.uuid4()), "user_id": "mallory"}, "user_mismatch"),
        ({**raw, "event_id": str(uuid.uuid4()), "metadata": {"a\x00": "v"}}, "invalid_metadata"),
        (
            {**raw, "event_id": str(uuid.uuid4()), "metadata": {"provider": "human"}},
            "invalid_metadata",
        ),
    ]
    for value, _ in poison:
        await pipeline.publish_raw(topics.MESSAGE_SUBMITTED, _json(value), key=key)
    dlq = topics.dead_letter_topic(topics.MESSAGE_SUBMITTED)
    letters = await pipeline.recorder.wait_for_raw(dlq, lambda s: s.key == key, count=len(poison))
    assert [s.headers["dlq-error-code"] for s in letters] == [code for _, code in poison]
    await _nothing_stored(pipeline, thread_id)
