"""The fault tests' verdict: order is judged as a gateway sees the thread."""

from __future__ import annotations

import uuid

from baton_contracts import MessageSent
from baton_runtime import KafkaSettings
from baton_testkit import Accepted, Load, Seen
from tests.support.recorder import Recorder
from tests.support.verdict import Verdict, judge


def reply(to: Accepted) -> MessageSent:
    return MessageSent.first(
        thread_id=to.thread_id,
        message_id=uuid.uuid4(),
        in_reply_to=to.message_id,
        text="ok",
        agent_name="Baton AI",
        provider="openai",
    )


def verdict_of(accepted: list[Accepted], sent: list[MessageSent]) -> Verdict:
    load = Load(ingest_url="http://unused", threads=["t"], interval_s=1, accepted=accepted)
    recorder = Recorder(
        KafkaSettings(),
        [Seen("message.sent", b"t", e.model_dump_json().encode(), {}, e) for e in sent],
    )
    return judge(load, recorder)


def test_a_repeat_of_an_earlier_reply_is_not_a_reordering() -> None:
    first, second = (Accepted(uuid.uuid4(), "t", i) for i in range(2))
    one, two = reply(first), reply(second)
    verdict = verdict_of([first, second], [one, two, one])  # the same event delivered again
    assert verdict.out_of_order == []
    assert verdict.redelivered == 1
    assert verdict.duplicates == []


def test_replies_in_the_wrong_order_are_caught() -> None:
    first, second = (Accepted(uuid.uuid4(), "t", i) for i in range(2))
    verdict = verdict_of([first, second], [reply(second), reply(first)])
    assert verdict.out_of_order == ["t"]


def test_a_second_reply_to_one_message_is_a_duplicate() -> None:
    first = Accepted(uuid.uuid4(), "t", 0)
    verdict = verdict_of([first], [reply(first), reply(first)])
    assert verdict.duplicates == [first.message_id]
