"""Baton's notices to the user: which are sent when, in which words and locale, turned off
where configured, and never twice."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from baton_contracts import MessageSent
from baton_conversations import BusinessHours, OpeningHours, Thread
from baton_human_queue.domain import Agent
from baton_human_queue.followups import NOTICE, FollowUps
from baton_human_queue.notices import (
    DepartmentNotices,
    Facts,
    InvalidTemplateError,
    NoticeRules,
    Texts,
    check_template,
    expected_wait,
    locale_chain,
)
from baton_human_queue.staffing import StaffingRules
from baton_human_queue.usecases import QueueConfig

from .conftest import ALEX, BO, NOW, SAM, Queue, requested, routed

BERLIN = ZoneInfo("Europe/Berlin")

RULES = NoticeRules(
    departments={
        "billing": DepartmentNotices(enable=("rating",)),
        "shipping": DepartmentNotices(
            disable=("agent_joined",),
            locales={"de": Texts(disable=("checking",), handoff="Sie sind Nummer {position}.")},
        ),
    },
)
HOURS = BusinessHours(
    departments={
        # NOW is a Sunday: this department is closed until Monday 09:00.
        "night": OpeningHours(timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}),
    }
)


@pytest.fixture
def queue_config() -> QueueConfig:
    return QueueConfig(
        lease_s=600,
        max_text_length=100,
        context_messages=5,
        outbox_grace_s=5,
        staffing=StaffingRules(default_capacity=50, away_after_s=300, failover_after_s=120),
        notices=RULES,
        hours=HOURS,
    )


def notices(queue: Queue, thread_id: str | None = None) -> list[MessageSent]:
    return [
        e
        for e in queue.published(MessageSent)
        if e.provider == "baton" and (thread_id is None or e.thread_id == thread_id)
    ]


def kinds(queue: Queue, thread_id: str | None = None) -> list[str | None]:
    return [e.notice for e in notices(queue, thread_id)]


async def thread_in(queue: Queue, department: str | None, locale: str | None = None) -> Thread:
    return await queue.conversations.open_thread(
        user_id="u-1",
        channel="web",
        department=department,
        metadata={"locale": locale} if locale else {},
    )


async def conversation(queue: Queue, thread: Thread) -> str:
    """The router gives ``thread`` to people; its ticket's id."""
    await queue.intake.open_conversation(routed(thread, await queue.user_says(thread)))
    ticket = await queue.tickets.open_for_thread(thread.thread_id)
    assert ticket is not None
    return ticket.ticket_id


# ---------------------------------------------------------------- the rules, free of I/O


def test_a_template_names_only_the_placeholders_its_notice_has() -> None:
    assert check_template("agent_joined", "{agent_name} joined {{you}}") == (
        "{agent_name} joined {{you}}"
    )
    with pytest.raises(InvalidTemplateError, match=r"unknown placeholder \{name\}.*\{agent_name\}"):
        check_template("agent_joined", "{name} joined")
    with pytest.raises(InvalidTemplateError, match=r"\{position\}"):
        check_template("checking", "You're number {position}")
    with pytest.raises(InvalidTemplateError, match="brace"):
        check_template("resolved", "Done { ")
    with pytest.raises(ValidationError, match="unknown placeholder"):
        NoticeRules.model_validate({"locales": {"en": {"handoff": "Wait {wiat}"}}})
    with pytest.raises(ValidationError, match="both enabled and disabled"):
        NoticeRules.model_validate(
            {"departments": {"x": {"enable": ["rating"], "disable": ["rating"]}}}
        )


def test_a_locale_falls_back_to_its_language_then_the_default_then_english() -> None:
    rules = NoticeRules(
        locales={"en": Texts(checking="One moment, please.")},
        departments={"billing": DepartmentNotices(locales={"de": Texts(checking="Moment!")})},
    )
    facts = Facts()

    def checking(department: str | None, locale: str | None) -> tuple[str, str]:
        notice = rules.notice("checking", department=department, locale=locale, facts=facts)
        assert notice is not None
        return notice.text, notice.locale

    assert locale_chain("de_CH") == ["de-ch", "de"]
    assert checking(None, "de-CH")[1] == "de"  # the built-in German
    assert checking("billing", "de-AT") == ("Moment!", "de")  # the department's German
    assert checking("billing", "en") == ("One moment, please.", "en")  # everyone's English
    assert checking(None, "pt-BR") == ("One moment, please.", "en")  # no Portuguese: English
    assert checking(None, None) == ("One moment, please.", "en")
    # Everyone's English replaces the built-in text it names, and only that one.
    joined = rules.notice("agent_joined", department=None, locale="en", facts=Facts("Alex"))
    assert joined is not None
    assert joined.text == "Alex from our support team has joined the conversation."

    french = NoticeRules(default_locale="fr").notice(
        "checking", department=None, locale=None, facts=facts
    )
    assert french is not None
    assert french.locale == "fr"
    assert "collègue" in french.text


def test_each_notice_is_on_or_off_by_the_most_specific_level_that_names_it() -> None:
    rules = NoticeRules(
        locales={"de": Texts(disable=("agent_joined",))},
        departments={
            "billing": DepartmentNotices(enable=("rating",), disable=("handback",)),
            "support": DepartmentNotices(locales={"de": Texts(enable=("agent_joined",))}),
        },
    )

    def on(kind: str, department: str | None, locale: str | None = None) -> bool:
        return rules.enabled(kind, department=department, locale=locale)  # type: ignore[arg-type]

    assert not on("rating", None)  # off unless a department asks for it
    assert on("rating", "billing")
    assert on("rating", "BILLING")
    assert not on("handback", "billing")
    assert on("handback", "support")
    assert not on("agent_joined", None, "de-CH")  # German users are not told
    assert on("agent_joined", None, "en")  # English users are
    assert on("agent_joined", "support", "de")  # the department's German turns it back on
    assert NoticeRules(disable=()).enabled("rating", department=None, locale=None)


def test_the_wait_and_the_return_in_words() -> None:
    rules = NoticeRules()

    def wait(seconds: float | None) -> str:
        waited = timedelta(seconds=seconds) if seconds is not None else None
        return rules.wait_words(waited, department=None, locale=None)

    assert wait(None) == "soon"
    assert wait(20) == "in about 2 minutes"
    assert wait(600) == "in about 10 minutes"
    assert wait(95 * 60) == "in about 2 hours"

    sunday = datetime(2026, 3, 1, 20, 0, tzinfo=BERLIN)

    def back(at: datetime, locale: str | None = None) -> str:
        return rules.back_words(at, sunday, department=None, locale=locale)

    assert back(datetime(2026, 3, 1, 22, 0, tzinfo=BERLIN)) == "today at 22:00 CET"
    assert back(datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)) == "tomorrow at 09:00 CET"
    assert back(datetime(2026, 3, 4, 9, 0, tzinfo=BERLIN)) == "on Wednesday at 09:00 CET"
    assert back(datetime(2026, 3, 4, 9, 0, tzinfo=BERLIN), "de") == "Mittwoch um 09:00 CET"
    assert back(datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)) == "on 2026-03-30 at 09:00 CEST"
    # "Tomorrow" is counted in the department's time zone, wherever the clock reads.
    late_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already Monday in Berlin
    assert rules.back_words(
        datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN), late_utc, department=None, locale=None
    ) == ("today at 09:00 CET")


def test_the_expected_wait_is_the_median_of_enough_recent_claims() -> None:
    assert expected_wait([]) is None
    assert expected_wait([60, 120]) is None
    assert expected_wait([60, 600, 120]) == timedelta(seconds=120)
    assert expected_wait([60, 120, 180, 240]) == timedelta(seconds=150)


# ---------------------------------------------------------------- the queue sends them


async def test_a_conversation_handed_to_people_is_told_where_it_stands(queue: Queue) -> None:
    first = await thread_in(queue, "billing")
    ticket_id = await conversation(queue, first)

    [handoff] = notices(queue)
    assert (handoff.notice, handoff.provider, handoff.agent_name, handoff.in_reply_to) == (
        "handoff",
        "baton",
        "Baton",
        None,
    )
    assert handoff.text == (
        "I've passed your conversation to our support team. You're number 1 in the queue; "
        "someone should be with you soon."
    )
    assert (handoff.user_id, handoff.channel) == ("u-1", "web")
    stored = queue.conversations.messages[handoff.message_id]
    assert (stored.role, stored.provider, stored.content, stored.visible_to_user) == (
        "assistant",
        "baton",
        handoff.text,
        True,
    )
    assert stored.metadata == {
        "system_notice": True,
        "notice": "handoff",
        "locale": "en",
        "ticket_id": ticket_id,
    }

    # A message added to the open ticket is told nothing new.
    await queue.intake.open_conversation(routed(first, await queue.user_says(first, "hello?")))
    assert kinds(queue) == ["handoff"]

    # The next thread of the department waits behind the first.
    second = await thread_in(queue, "billing", locale="de-CH")
    await conversation(queue, second)
    [german] = notices(queue, second.thread_id)
    assert german.text.startswith("Ich habe Ihr Gespräch an unser Support-Team übergeben.")
    assert "auf Platz 2 in der Warteschlange" in german.text
    assert queue.conversations.messages[german.message_id].metadata["locale"] == "de"


async def test_the_expected_wait_comes_from_the_departments_recent_claims(queue: Queue) -> None:
    waited = []
    for minutes in (4, 6, 10):
        ticket_id = await conversation(queue, await thread_in(queue, "billing"))
        waited.append((ticket_id, minutes))
    start = queue.clock()
    for ticket_id, minutes in waited:
        queue.clock.now = start + timedelta(minutes=minutes)
        await queue.claims.claim(SAM, ticket_id)
    queue.clock.advance(minutes=1)

    later = await thread_in(queue, "billing")
    await conversation(queue, later)

    [handoff] = notices(queue, later.thread_id)
    assert "number 1 in the queue; someone should be with you in about 6 minutes." in (handoff.text)
    # Another department's claims say nothing about this one's wait.
    elsewhere = await thread_in(queue, "support")
    await conversation(queue, elsewhere)
    assert notices(queue, elsewhere.thread_id)[0].text.endswith("with you soon.")


async def test_outside_business_hours_the_user_is_told_when_people_are_back(queue: Queue) -> None:
    thread = await thread_in(queue, "night")
    ticket_id = await conversation(queue, thread)

    [handoff] = notices(queue)
    assert handoff.text == (
        "I've passed your conversation to our support team. They're away right now and back "
        "tomorrow at 09:00 CET; you're number 1 in the queue."
    )
    ticket = await queue.tickets.get(ticket_id)
    assert ticket is not None
    # The first-response clock (an hour) starts when people are back: Monday 09:00 CET.
    assert ticket.sla_due_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_the_ai_asking_a_colleague_is_told_and_an_escalation_is_a_handoff(
    queue: Queue,
) -> None:
    asked = await thread_in(queue, "billing")
    await queue.intake.open_request(requested(asked, "question", await queue.user_says(asked)))
    escalated = await thread_in(queue, "billing")
    await queue.intake.open_request(
        requested(escalated, "escalation", await queue.user_says(escalated))
    )
    drafted = await thread_in(queue, "billing")
    await queue.intake.open_request(requested(drafted, "approval", await queue.user_says(drafted)))

    assert kinds(queue, asked.thread_id) == ["checking"]
    assert notices(queue, asked.thread_id)[0].text == (
        "Let me check that with a colleague. I'll be back with you shortly."
    )
    assert kinds(queue, escalated.thread_id) == ["handoff"]
    assert kinds(queue, drafted.thread_id) == []  # a draft's review is not the user's business

    # Turned off for German users of shipping: nothing, while English users are told.
    quiet = await thread_in(queue, "shipping", locale="de")
    await queue.intake.open_request(requested(quiet, "question", await queue.user_says(quiet)))
    assert kinds(queue, quiet.thread_id) == []
    told = await thread_in(queue, "shipping", locale="en")
    await queue.intake.open_request(requested(told, "question", await queue.user_says(told)))
    assert kinds(queue, told.thread_id) == ["checking"]


async def test_an_agent_joining_is_told_once_per_agent_not_on_renewals(queue: Queue) -> None:
    thread = await thread_in(queue, "billing")
    ticket_id = await conversation(queue, thread)

    await queue.claims.claim(ALEX, ticket_id)
    await queue.claims.claim(ALEX, ticket_id)  # a renewal
    assert kinds(queue) == ["handoff", "agent_joined"]
    assert notices(queue)[-1].text == "Alex from our support team has joined the conversation."

    await queue.claims.release(ALEX, ticket_id)
    await queue.claims.claim(SAM, ticket_id)
    assert [e.text.split(" ")[0] for e in notices(queue)[1:]] == ["Alex", "Sam"]

    # Where it is turned off, nobody is announced.
    shipped = await thread_in(queue, "shipping")
    await queue.claims.claim(BO, await conversation(queue, shipped))
    assert kinds(queue, shipped.thread_id) == ["handoff"]


async def test_an_auto_assigned_ticket_announces_its_agent(queue: Queue) -> None:
    await queue.departments.set_policy("billing", "round_robin", now=NOW)
    await queue.staff.set_status(ALEX, "online")

    thread = await thread_in(queue, "billing")
    await conversation(queue, thread)

    assert kinds(queue, thread.thread_id) == ["handoff", "agent_joined"]
    assert notices(queue, thread.thread_id)[-1].text.startswith("Alex ")


async def test_resolving_tells_the_user_and_asks_for_a_rating_where_wanted(queue: Queue) -> None:
    handed_back = await thread_in(queue, "billing")
    first = await conversation(queue, handed_back)
    await queue.claims.claim(ALEX, first)
    await queue.holder.resolve(ALEX, first, "ai")
    await queue.holder.resolve(ALEX, first, "ai")  # a retried request

    assert kinds(queue, handed_back.thread_id) == [
        "handoff",
        "agent_joined",
        "handback",
        "rating",
    ]
    handback, rating = notices(queue, handed_back.thread_id)[2:]
    assert handback.text.startswith("Alex has handed the conversation back to me.")
    assert rating.text == "How did we do? Reply with a number from 1 (poor) to 5 (excellent)."

    kept = await thread_in(queue, "support")
    second = await conversation(queue, kept)
    await queue.claims.claim(SAM, second)
    await queue.holder.resolve(SAM, second, "none")
    # Support does not ask for ratings (off unless a department turns it on).
    assert kinds(queue, kept.thread_id) == ["handoff", "agent_joined", "resolved"]
    assert notices(queue, kept.thread_id)[-1].text.startswith(
        "Sam has marked this conversation as resolved."
    )


async def test_a_replay_sends_no_notice_twice(queue: Queue) -> None:
    thread = await thread_in(queue, "billing")
    event = routed(thread, await queue.user_says(thread))
    queue.publisher.down = True  # the notice stays on the ticket, for the sweep
    await queue.intake.open_conversation(event)
    ticket = await queue.only_ticket(thread)
    [entry] = [e for e in queue.tickets.follow_ups_of(ticket.ticket_id) if e.kind == NOTICE]
    assert notices(queue) == []

    queue.publisher.down = False
    await queue.intake.open_conversation(event)  # Kafka delivers the route again
    queue.clock.advance(seconds=6)
    await queue.sweep()
    await queue.sweep()

    [handoff] = notices(queue)
    assert handoff.event_id == ticket.event_id("notice:handoff:message.sent")
    assert queue.tickets.follow_ups_of(ticket.ticket_id) == []

    # The follow-up carried out once more (a crash after sending, before taking it off).
    follow_ups = FollowUps(
        conversations=queue.conversations,
        claims=queue.claim_log,
        feedback=queue.feedback,
        agents=queue.agents,
    )
    await follow_ups.kinds()[NOTICE](entry.data)
    assert len(notices(queue)) == 1
    stored = [m for m in queue.conversations.messages.values() if m.provider == "baton"]
    assert [m.message_id for m in stored] == [handoff.message_id]


async def test_a_takeover_announces_the_person_who_took_over(queue: Queue) -> None:
    from baton_human_queue.usecases.moving import MovingWork

    boss = Agent("agent-boss", "Robin", ("billing",), role="supervisor")
    queue.enrol(boss)
    moving = MovingWork(
        tickets=queue.tickets,
        agents=queue.agents,
        departments=queue.departments,
        conversations=queue.conversations,
        config=queue.config,
        max_note_length=100,
        clock=queue.clock,
    )
    thread = await thread_in(queue, "billing", locale="fr")
    await queue.user_says(thread)

    await moving.take_over(boss, thread.thread_id)

    [joined] = notices(queue, thread.thread_id)
    assert (joined.notice, joined.text) == (
        "agent_joined",
        "Robin, de notre équipe d'assistance, a rejoint la conversation.",
    )


def test_the_documented_examples_are_valid_configuration() -> None:
    """docs/human-queue.md shows a business-hours file, then a notices file: both load."""
    doc = (Path(__file__).parents[3] / "docs" / "human-queue.md").read_text(encoding="utf-8")
    hours_example, notices_example = re.findall(r"```yaml\n(.*?)```", doc, re.S)[:2]

    hours = BusinessHours.model_validate(yaml.safe_load(hours_example))
    billing = hours.of("billing")
    assert billing is not None
    assert billing.out_of_hours == "ai"
    rules = NoticeRules.model_validate(yaml.safe_load(notices_example))
    assert rules.enabled("rating", department="billing", locale=None)
    assert not rules.enabled("agent_joined", department=None, locale="nl-BE")
    joined = rules.notice("resolved", department="billing", locale="de", facts=Facts("Kim"))
    assert joined is not None
    assert joined.text.startswith("Kim hat Ihr Anliegen gelöst.")
