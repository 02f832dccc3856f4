"""What the services log while they work, through the real pipeline: at INFO and above
no line carries anything a customer or an agent wrote, nor any secret (admin tokens, a
gateway's key and identity secret, an agent's token); every line is one JSON object
naming its service; and what is logged while an event is handled names its thread."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from baton_contracts import MessageSent, MessageSubmitted, topics
from baton_runtime import JsonFormatter, context_filter
from tests.support.pipeline import Pipeline
from tests.support.queue import department, new_agent, reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.addFilter(context_filter())
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logged() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_no_words_and_no_secrets_are_logged_and_lines_name_their_thread(
    pipeline: Pipeline, logged: Lines
) -> None:
    admin = {"Authorization": f"Bearer {pipeline.admin_token}"}
    created = await pipeline.ingest.post(
        "/v1/admin/gateways",
        json={"name": "logged", "channels": ["web"], "require_identity": True},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    gateway = created.json()
    words = [f"customer words {token()}", f"ai words {token()}", f"agent words {token()}"]
    secrets = [pipeline.admin_token, gateway["key"], gateway["identity_secret"]]

    # The AI answers one thread; a person answers another.
    tok = token()
    await pipeline.script(reply_rule(tok, words[1]))
    thread_id = await pipeline.new_thread()
    await pipeline.say(thread_id, f"{words[0]} {tok}")
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))

    dept = department()
    agent = await new_agent(pipeline.queue, pipeline.admin_token, "Logan", dept)
    secrets.append(agent.token)
    human_thread = await pipeline.new_thread(department=dept)
    await pipeline.say(human_thread, f"talk to a human, {words[0]}")
    [ticket] = await agent.wait_for_ticket(human_thread, kind="conversation")
    await agent.act(ticket["ticket_id"], "claim")
    await agent.act(ticket["ticket_id"], "reply", {"text": words[2]})
    await pipeline.recorder.wait_for(MessageSent, in_thread(human_thread))

    # A message for the thread that can never be stored: dead-lettered, and logged.
    foreign = MessageSubmitted.first(thread_id=thread_id, user_id="someone-else", text=words[0])
    await pipeline.publish(foreign)
    await pipeline.recorder.wait_for_raw(
        topics.dead_letter_topic(topics.MESSAGE_SUBMITTED),
        lambda seen: seen.key == thread_id.encode(),
    )

    async def dead_letter_logged() -> bool:
        return any("dead-lettering" in line and thread_id in line for line in logged.lines)

    await eventually(dead_letter_logged, what="the dead letter's log line")
    parsed = [json.loads(line) for line in logged.lines]
    assert all(line["service"] and line["level"] and line["message"] for line in parsed)
    [dead] = [
        line
        for line in parsed
        if "dead-lettering" in line["message"] and line.get("thread_id") == thread_id
    ]
    assert dead["event_type"] == "message.submitted"
    assert dead["correlation_id"] == str(foreign.correlation_id)
    for line in logged.lines:
        for word in words:
            assert word not in line
        for secret in secrets:
            assert secret not in line
