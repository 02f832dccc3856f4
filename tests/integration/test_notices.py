"""Baton's notices to the user, business hours and the SLA clocks, through a human queue of
its own on real Kafka and MongoDB: each notice is stored in the thread and announced with
its words and locale, is not sent where it is turned off, and a replay sends none twice;
out of hours the user is told when people are back and the clocks wait for them; the
next-response and resolution SLAs breach and raise the priority."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pymongo import AsyncMongoClient

from baton_contracts import (
    Event,
    MessageSent,
    RouteDecided,
    ThreadAssigned,
    TicketSlaBreached,
    ToolHumanRequested,
    topics,
)
from baton_conversations import BusinessHoursSettings, Conversations
from baton_runtime import (
    Document,
    Entry,
    KafkaEventPublisher,
    KafkaSettings,
    MongoSettings,
    Outbox,
)
from tests.support.memory import MemoryPublisher
from tests.support.pipeline import ADMIN_TOKEN
from tests.support.queue import AgentClient, new_agent
from tests.support.recorder import in_thread
from tests.support.served import ServedQueue, served_queue
from tests.support.waiting import eventually

BERLIN = ZoneInfo("Europe/Berlin")

NOTICES = {
    "departments": {
        "billing": {"enable": ["rating"]},
        "quiet": {"disable": ["handoff", "checking", "agent_joined", "handback", "resolved"]},
    },
    "locales": {"de": {"checking": "Einen Moment, ich frage eine Kollegin."}},
}
PRIORITY = {"by_department": {"urgent": 40}}


def closed_days() -> list[str]:
    """Yesterday, today and tomorrow in Berlin: a department closed whenever the test runs."""
    today = datetime.now(BERLIN).date()
    return [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]


def hours_config() -> dict[str, Any]:
    return {
        "departments": {
            "closed": {
                "timezone": "Europe/Berlin",
                "hours": {"mon-sun": "09:00-17:00"},
                "holidays": closed_days(),
            }
        }
    }


@dataclass
class Queue(ServedQueue):
    @property
    def conversations(self) -> Conversations:
        # Only opens threads here: nothing goes through its outbox.
        return Conversations(self.db, MemoryPublisher())

    async def publish(self, *events: Event) -> None:
        await KafkaEventPublisher(self.producer, self.kafka).publish(events)

    async def thread(self, department: str, locale: str | None = None) -> str:
        thread = await self.conversations.open_thread(
            user_id=f"u-{uuid.uuid4().hex[:6]}",
            channel="web",
            department=department,
            metadata={"locale": locale} if locale else {},
        )
        return thread.thread_id

    async def agent(self, name: str, department: str) -> AgentClient:
        return await new_agent(self.http, ADMIN_TOKEN, name, department)

    def notices(self, thread_id: str) -> list[MessageSent]:
        return self.recorder.events(
            MessageSent, lambda e: e.thread_id == thread_id and e.provider == "baton"
        )

    async def wait_for_notices(self, thread_id: str, count: int) -> list[MessageSent]:
        return await self.recorder.wait_for(
            MessageSent,
            lambda e: e.thread_id == thread_id and e.provider == "baton",
            count=count,
            timeout=15,
        )

    async def stored_notices(self, thread_id: str) -> list[Document]:
        cursor = (
            self.db["messages"]
            .find({"thread_id": thread_id, "metadata.provider": "baton"})
            .sort([("seq", 1)])
        )
        return await cursor.to_list()


def routed(thread_id: str, department: str, strategy: str = "rule") -> RouteDecided:
    return RouteDecided.first(
        thread_id=thread_id,
        message_id=uuid.uuid4(),
        handler="human",
        strategy=strategy,
        reason="the user asked for a person",
        text="I want a human",
        department=department,
    )


@pytest.fixture(scope="module")
async def queue(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> AsyncIterator[Queue]:
    async with served_queue(
        Queue,
        kafka_settings,
        mongo_settings,
        mongo_client,
        name="notices",
        watch=(
            topics.MESSAGE_SENT,
            topics.TICKET_SLA_BREACHED,
            topics.THREAD_ASSIGNED,
        ),
        sweep_interval_s=0.2,
        outbox_grace_s=1.0,
        priority=PRIORITY,
        # Only urgent tickets (priority 40 and up) have second-long clocks.
        next_response_sla_s={0: 86400, 40: 1.0},
        resolution_sla_s={0: 86400, 40: 2.0},
        sla_priority_step={"next_response": 5, "resolution": 7},
        notices=json.dumps(NOTICES),
        business_hours=BusinessHoursSettings(hours=json.dumps(hours_config())),
    ) as served:
        yield served


async def test_every_notice_reaches_the_user_in_their_own_words(queue: Queue) -> None:
    alex = await queue.agent("Alex", "billing")
    thread_id = await queue.thread("billing", locale="de-DE")
    await queue.publish(routed(thread_id, "billing"))
    [ticket] = await alex.wait_for_ticket(thread_id)

    [handoff] = await queue.wait_for_notices(thread_id, 1)
    assert handoff.notice == "handoff"
    assert handoff.text == (
        "Ich habe Ihr Gespräch an unser Support-Team übergeben. Sie sind auf Platz 1 in der "
        "Warteschlange; jemand sollte in Kürze für Sie da sein."
    )

    await alex.act(ticket["ticket_id"], "claim")
    await alex.act(ticket["ticket_id"], "claim")  # renewing the lease tells nobody
    await alex.act(ticket["ticket_id"], "resolve", {"handback": "ai"})

    sent = await queue.wait_for_notices(thread_id, 4)
    await asyncio.sleep(0.5)
    sent = queue.notices(thread_id)
    assert [(e.notice, e.provider, e.agent_name) for e in sent] == [
        ("handoff", "baton", "Baton"),
        ("agent_joined", "baton", "Baton"),
        ("handback", "baton", "Baton"),
        ("rating", "baton", "Baton"),
    ]
    assert sent[1].text == "Alex aus unserem Support-Team ist dem Gespräch beigetreten."
    assert sent[2].text.startswith("Alex hat das Gespräch an mich zurückgegeben.")
    assert sent[3].text.startswith("Wie zufrieden waren Sie?")
    assert {e.user_id for e in sent} == {sent[0].user_id}
    assert sent[0].user_id is not None

    stored = await queue.stored_notices(thread_id)
    assert [str(m["_id"]) for m in stored] == [str(e.message_id) for e in sent]
    for message, event in zip(stored, sent, strict=True):
        assert (message["role"], message["content"], message["visible_to_user"]) == (
            "assistant",
            event.text,
            True,
        )
        assert message["metadata"]["system_notice"] is True
        assert (message["metadata"]["notice"], message["metadata"]["locale"]) == (
            event.notice,
            "de",
        )
        assert message["metadata"]["ticket_id"] == ticket["ticket_id"]

    # The AI asking a colleague: the configured German words.
    asked = await queue.thread("billing", locale="de")
    await queue.publish(
        ToolHumanRequested.first(
            thread_id=asked,
            kind="question",
            request_id=uuid.uuid4(),
            message_id=uuid.uuid4(),
            question="Did order 7 ship?",
            reason="the AI does not know",
            department="billing",
        )
    )
    [checking] = await queue.wait_for_notices(asked, 1)
    assert (checking.notice, checking.text) == (
        "checking",
        "Einen Moment, ich frage eine Kollegin.",
    )


async def test_a_notice_turned_off_is_not_sent(queue: Queue) -> None:
    sam = await queue.agent("Sam", "quiet")
    thread_id = await queue.thread("quiet")
    await queue.publish(routed(thread_id, "quiet"))
    [ticket] = await sam.wait_for_ticket(thread_id)
    await sam.act(ticket["ticket_id"], "claim")
    await sam.act(ticket["ticket_id"], "resolve", {"handback": "none"})

    # The last change's owner change is out: its notices would have gone before it settles.
    await queue.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and "resolved" in e.reason
    )
    await asyncio.sleep(1.0)
    assert queue.notices(thread_id) == []
    assert await queue.stored_notices(thread_id) == []


async def test_a_replay_sends_no_notice_twice(queue: Queue) -> None:
    alex = await queue.agent("Alex", "billing")
    thread_id = await queue.thread("billing")
    route = routed(thread_id, "billing")
    await queue.publish(route)
    [ticket] = await alex.wait_for_ticket(thread_id)
    [handoff] = await queue.wait_for_notices(thread_id, 1)

    # Kafka delivers the route again: the same ticket, no second notice.
    await queue.publish(route)
    # A crash after the notice went out, before it was taken off the ticket: the sweep
    # carries it out again.
    doc = await queue.db["messages"].find_one({"_id": str(handoff.message_id)})
    assert doc is not None
    entry = Entry(
        f"notice:{handoff.message_id}",
        "notice",
        json.dumps(
            {
                "message_id": str(handoff.message_id),
                "event_id": str(handoff.event_id),
                "correlation_id": str(handoff.correlation_id),
                "causation_id": str(handoff.causation_id),
                "thread_id": thread_id,
                "ticket_id": ticket["ticket_id"],
                "notice": "handoff",
                "text": handoff.text,
                "locale": "en",
                "sender": "Baton",
                "created_at": doc["created_at"].replace(tzinfo=UTC).isoformat(),
            }
        ),
    )
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    await queue.db["tickets"].update_one(
        {"_id": ticket["ticket_id"]}, Outbox(MemoryPublisher()).push([entry], now=long_ago)
    )

    async def cleared() -> Document | None:
        found = await queue.db["tickets"].find_one({"_id": ticket["ticket_id"]})
        return found if found is not None and not found.get("outbox") else None

    await eventually(cleared, timeout=15, what="the replayed notice carried out")
    await asyncio.sleep(0.5)
    assert [e.event_id for e in queue.notices(thread_id)] == [handoff.event_id]
    assert len(await queue.stored_notices(thread_id)) == 1
    assert len(await alex.tickets(thread_id=thread_id, status="all")) == 1


async def test_out_of_hours_the_user_is_told_when_people_are_back(queue: Queue) -> None:
    kim = await queue.agent("Kim", "closed")
    thread_id = await queue.thread("closed")
    await queue.publish(routed(thread_id, "closed"))
    [ticket] = await kim.wait_for_ticket(thread_id)

    back = datetime.combine(
        datetime.now(BERLIN).date() + timedelta(days=2), datetime.min.time(), BERLIN
    ).replace(hour=9)
    [handoff] = await queue.wait_for_notices(thread_id, 1)
    weekday = back.strftime("%A")
    assert handoff.text == (
        "I've passed your conversation to our support team. They're away right now and back "
        f"on {weekday} at 09:00 {back.strftime('%Z')}; you're number 1 in the queue."
    )
    # The first-response clock (an hour at priority 0) starts when people are back.
    due = datetime.fromisoformat(ticket["sla_due_at"])
    assert due == back + timedelta(hours=1)


async def test_next_response_and_resolution_breaches_raise_the_priority(queue: Queue) -> None:
    lee = await queue.agent("Lee", "urgent")
    thread_id = await queue.thread("urgent")
    await queue.publish(routed(thread_id, "urgent"))
    [ticket] = await lee.wait_for_ticket(thread_id)
    ticket_id = ticket["ticket_id"]
    assert ticket["priority"] == 40
    await lee.act(ticket_id, "claim")
    await lee.act(ticket_id, "reply", {"text": "Hello, looking into it."})
    # The user writes again (a thread people own: the owner flag routes it to them).
    again = routed(thread_id, "urgent", strategy="owner_flag")
    await queue.publish(again)

    breaches = await queue.recorder.wait_for(
        TicketSlaBreached, lambda e: e.ticket_id == ticket_id, count=2, timeout=15
    )
    by_sla = {b.sla: b for b in breaches}
    assert set(by_sla) == {"next_response", "resolution"}
    assert by_sla["next_response"].priority_raised_by == 5
    assert by_sla["resolution"].priority_raised_by == 7
    assert {b.agent.name for b in breaches if b.agent} == {"Lee"}
    stored = await queue.db["tickets"].find_one({"_id": ticket_id})
    assert stored is not None
    assert by_sla["resolution"].sla_due_at == stored["resolution_due_at"]
    assert by_sla["next_response"].sla_due_at == stored["next_response_due_at"]
    assert stored["next_response_breached_at"] is not None

    async def raised() -> dict[str, Any] | None:
        found = (await lee.ticket(ticket_id))["ticket"]
        return found if found["priority"] == 52 else None

    assert await eventually(raised, timeout=10, what="priority 40 + 5 + 7")
    await asyncio.sleep(1.0)  # each clock breaches once
    assert len(queue.recorder.events(TicketSlaBreached, in_thread(thread_id))) == 2
