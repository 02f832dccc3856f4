"""The fault tests' verdict: order is judged as a gateway sees the thread."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from baton_contracts import MessageSent
from baton_runtime import KafkaSettings
from baton_testkit import Accepted, Load, Seen
from tests.faults.people import double_holds
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


def test_a_persons_reply_is_not_a_second_outcome() -> None:
    first = Accepted(uuid.uuid4(), "t", 0, to_people=True)
    human = reply(first).model_copy(update={"provider": "human", "message_id": uuid.uuid4()})
    verdict = verdict_of([first], [reply(first), human])
    assert verdict.duplicates == []
    assert verdict.sent == 1


def test_overlapping_claims_are_a_double_hold() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def claim(ticket: str, start: int, end: int | None) -> dict[str, object]:
        ended = at + timedelta(seconds=end) if end is not None else None
        return {
            "_id": uuid.uuid4().hex,
            "ticket_id": ticket,
            "claimed_at": at + timedelta(seconds=start),
            "ended_at": ended,
        }

    claims = [
        claim("one-after-another", 0, 5),
        claim("one-after-another", 5, 9),
        claim("overlapping", 0, 5),
        claim("overlapping", 4, 9),
        claim("never-closed", 0, None),
    ]
    overlapping, still_open = double_holds(claims)
    assert overlapping == ["overlapping"]
    assert [c["ticket_id"] for c in claims if c["_id"] in still_open] == ["never-closed"]
