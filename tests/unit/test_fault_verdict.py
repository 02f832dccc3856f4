"""The fault tests' verdict: order is judged as a gateway sees the thread."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from baton_contracts import Event, MessageSent, ToolHumanRequested
from baton_runtime import KafkaSettings
from baton_testkit import Accepted, Load, Seen, Team
from tests.faults.people import PeopleVerdict, double_holds, judge_people
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


def recorded(events: list[Event]) -> Recorder:
    return Recorder(
        KafkaSettings(),
        [Seen(e.type, e.thread_id.encode(), e.model_dump_json().encode(), {}, e) for e in events],
    )


def verdict_of(accepted: list[Accepted], sent: list[Event]) -> Verdict:
    load = Load(ingest_url="http://unused", threads=["t"], interval_s=1, accepted=accepted)
    return judge(load, recorded(sent))


def approval_asked(to: Accepted) -> tuple[ToolHumanRequested, MessageSent]:
    """The AI's request for a person's approval of its draft reply to ``to``, and the
    draft's ``message.sent`` once approved."""
    draft = reply(to)
    asked = ToolHumanRequested.first(
        thread_id=to.thread_id,
        request_id=uuid.uuid4(),
        kind="approval",
        message_id=to.message_id,
        reason="sensitive topic: refund",
        draft_message_id=draft.message_id,
        draft_text=draft.text,
    )
    return asked, draft


def people_of(
    accepted: list[Accepted], events: list[Event], approved: dict[str, Accepted]
) -> PeopleVerdict:
    """The human side's verdict, with the team having approved the drafts of ``approved``'s
    tickets (ticket id -> the approval message)."""
    load = Load(
        ingest_url="http://unused", threads=[], approvals=["t"], interval_s=1, accepted=accepted
    )
    team = Team("http://unused", "token")
    drafts = {
        e.message_id: e.draft_message_id
        for e in events
        if isinstance(e, ToolHumanRequested) and e.draft_message_id is not None
    }
    for ticket, message in approved.items():
        team.approved[ticket] = drafts[message.message_id]
        team.resolved[ticket] = [message.message_id]
    return judge_people(load, recorded(events), team, [], [])


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


def test_an_approved_draft_sent_is_not_a_second_outcome() -> None:
    first, second = (Accepted(uuid.uuid4(), "t", i, to_approve=True) for i in range(2))
    asked, draft = approval_asked(first)
    then, later = approval_asked(second)
    verdict = verdict_of([first, second], [asked, draft, then, later])
    assert verdict.duplicates == []
    assert verdict.lost == []
    assert verdict.out_of_order == []
    assert verdict.sent == 2


def test_every_approved_draft_sent_once_is_clean() -> None:
    first = Accepted(uuid.uuid4(), "t", 0, to_approve=True)
    asked, draft = approval_asked(first)
    people = people_of([first], [asked, draft, draft], {"ticket": first})
    assert people.clean, people.summary()
    assert (people.approvals, people.approved, people.approved_sent) == (1, 1, 1)
    assert people.approved_records == 2  # the same event again: a gateway drops it


def test_an_approved_draft_never_sent_is_lost() -> None:
    first = Accepted(uuid.uuid4(), "t", 0, to_approve=True)
    asked, draft = approval_asked(first)
    people = people_of([first], [asked], {"ticket": first})
    assert people.unsent == [draft.message_id]
    assert "approved_lost=1" in people.summary()


def test_a_draft_sent_without_approval_is_caught() -> None:
    first = Accepted(uuid.uuid4(), "t", 0, to_approve=True)
    asked, draft = approval_asked(first)
    people = people_of([first], [asked, draft], {})
    assert people.sent_unapproved == [draft.message_id]
    assert people.unapproved == [first.message_id]


def test_two_replies_to_an_approval_message_are_a_duplicate() -> None:
    first = Accepted(uuid.uuid4(), "t", 0, to_approve=True)
    asked, draft = approval_asked(first)
    other = reply(first)
    people = people_of([first], [asked, draft, other], {"ticket": first})
    assert people.approved_twice == [first.message_id]


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
