"""The queue's use cases on in-memory stores, the conversation core and a publisher: what a
unit test of a queue action needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from baton_contracts import Event, RouteDecided, ThreadAssigned, ToolHumanRequested
from baton_conversations import Message, Thread
from baton_human_queue.domain import Agent
from baton_human_queue.followups import FollowUps
from baton_human_queue.notices import NOTICE_KINDS, NoticeRules
from baton_human_queue.staffing import AgentState, StaffingRules
from baton_human_queue.tickets import Ticket
from baton_human_queue.usecases import (
    Assigner,
    Claims,
    HolderActions,
    Intake,
    QueueConfig,
    Reading,
    Reports,
    Staff,
    Sweep,
)
from baton_runtime import Outbox
from tests.support.memory import MemoryConversations
from tests.support.queue_memory import (
    Clock,
    FlakyPublisher,
    MemoryActionAudit,
    MemoryNotes,
    MemoryTickets,
)
from tests.support.queue_records import (
    MemoryAgents,
    MemoryClaims,
    MemoryDepartments,
    MemoryFeedback,
    MemoryOwnership,
    MemoryRatings,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALEX = Agent("agent-alex", "Alex", ("billing",))
SAM = Agent("agent-sam", "Sam", ("billing", "support"))
BO = Agent("agent-bo", "Bo", ("shipping",))
EVERYONE = Agent("agent-all", "Everyone", ("billing", "support", "shipping"))
TEAM = (ALEX, SAM, BO, EVERYONE)
"""The agents every unit test's queue knows (claims need an agent on record, for its slots)."""


@dataclass
class Queue:
    clock: Clock
    publisher: FlakyPublisher
    conversations: MemoryConversations
    tickets: MemoryTickets
    claim_log: MemoryClaims
    feedback: MemoryFeedback
    ownership: MemoryOwnership
    config: QueueConfig
    intake: Intake
    claims: Claims
    holder: HolderActions
    sweep: Sweep
    reading: Reading
    reports: Reports
    agents: MemoryAgents
    departments: MemoryDepartments
    assigner: Assigner
    staff: Staff
    note_store: MemoryNotes
    """Where notes that changes store with them (a transfer's) are kept."""
    ratings: MemoryRatings
    """The users' ratings the queue keeps (``thread.rated``), which the reports read."""
    action_audit: MemoryActionAudit
    """The action audit: what happened to the tool calls of action tickets."""

    def enrol(self, *members: Agent) -> None:
        """Put agents on record (offline, nothing held), as an admin creating them would."""
        for member in members:
            self.agents.by_id[member.agent_id] = AgentState(
                agent=member,
                active=True,
                status="offline",
                idle_away=False,
                last_seen_at=None,
                status_at=self.clock(),
                created_at=self.clock(),
            )
            self.agents.hashes[member.agent_id] = f"hash-{member.agent_id}"

    def published(self, event_type: type[Event]) -> list[Any]:
        return self.publisher.of_type(event_type)

    async def thread(self, department: str | None = "billing", tier: str | None = None) -> Thread:
        thread = await self.conversations.open_thread(
            user_id="u-1",
            channel="web",
            department=department,
            metadata={"tier": tier} if tier else {},
        )
        return thread

    async def user_says(self, thread: Thread, text: str = "hello") -> uuid.UUID:
        message = Message(
            message_id=uuid.uuid4(),
            thread_id=thread.thread_id,
            role="user",
            content=text,
            provider="user",
            created_at=self.clock(),
        )
        await self.conversations.append(message)
        return message.message_id

    async def conversation(self, department: str | None = "billing") -> Ticket:
        """A thread the router gave to people, and its ticket."""
        thread = await self.thread(department)
        await self.intake.open_conversation(routed(thread, await self.user_says(thread)))
        return await self.only_ticket(thread)

    async def request(self, kind: str, department: str | None = "billing", **fields: Any) -> Ticket:
        """A thread where the AI asks a person (``kind``), and its ticket."""
        thread = await self.thread(department)
        event = requested(thread, kind, await self.user_says(thread), **fields)
        await self.intake.open_request(event)
        return await self.only_ticket(thread)

    async def only_ticket(self, thread: Thread) -> Ticket:
        [ticket] = await self.reading.search(
            EVERYONE, statuses=("pending", "assigned", "resolved"), thread_id=thread.thread_id
        )
        return ticket

    async def claimed(
        self, kind: str = "conversation", agent: Agent = ALEX, **fields: Any
    ) -> Ticket:
        ticket = await (
            self.conversation() if kind == "conversation" else self.request(kind, **fields)
        )
        return await self.claims.claim(agent, ticket.ticket_id)

    async def record_ownership(self) -> None:
        """Feed the ownership log what was published, as its consumer would."""
        for event in self.published(ThreadAssigned):
            await self.ownership.record(event)


def routed(thread: Thread, message_id: uuid.UUID, **fields: Any) -> RouteDecided:
    return RouteDecided.first(
        thread_id=thread.thread_id,
        message_id=message_id,
        handler="human",
        strategy="rule",
        reason="the user asked for a person",
        text="I want a human",
        **fields,
    )


def requested(
    thread: Thread, kind: str, message_id: uuid.UUID, **fields: Any
) -> ToolHumanRequested:
    defaults: dict[str, Any] = {
        "thread_id": thread.thread_id,
        "request_id": uuid.uuid4(),
        "reason": f"test {kind}",
    }
    if kind == "approval":
        defaults |= {"draft_message_id": uuid.uuid4(), "draft_text": "Your refund is on its way."}
    if kind == "question":
        defaults |= {"question": "Did order 7 ship?", "tool_call_id": "call_1"}
    return ToolHumanRequested.first(kind=kind, message_id=message_id, **(defaults | fields))


@pytest.fixture
def queue_config() -> QueueConfig:
    """The queue's configuration; a test module overrides this fixture to change it."""
    # Room for every test's claims; the capacity tests set their own. Notices to the user
    # have tests of their own (test_notices.py): here they would add to every thread.
    return QueueConfig(
        lease_s=600,
        max_text_length=100,
        context_messages=5,
        outbox_grace_s=5,
        staffing=StaffingRules(default_capacity=50, away_after_s=300, failover_after_s=120),
        notices=NoticeRules(disable=NOTICE_KINDS),
    )


@pytest.fixture
def queue(queue_config: QueueConfig) -> Queue:
    clock = Clock(NOW)
    publisher = FlakyPublisher()
    conversations = MemoryConversations(publisher)
    claim_log, feedback, ownership = MemoryClaims(), MemoryFeedback(), MemoryOwnership()
    agents = MemoryAgents(Outbox(publisher, clock=clock))
    for member in TEAM:
        agents.by_id[member.agent_id] = AgentState(
            agent=member,
            active=True,
            status="offline",
            idle_away=False,
            last_seen_at=None,
            status_at=NOW,
            created_at=NOW,
        )
        agents.hashes[member.agent_id] = f"hash-{member.agent_id}"
    note_store = MemoryNotes()
    ratings = MemoryRatings()
    action_audit = MemoryActionAudit()
    follow_ups = FollowUps(
        conversations=conversations,
        claims=claim_log,
        feedback=feedback,
        agents=agents,
        notes=note_store,
        audit=action_audit,
    )
    tickets = MemoryTickets(Outbox(publisher, kinds=follow_ups.kinds(), clock=clock), clock)
    config = queue_config
    departments = MemoryDepartments()
    assigner = Assigner(
        tickets=tickets, agents=agents, departments=departments, config=config, clock=clock
    )
    return Queue(
        clock=clock,
        publisher=publisher,
        conversations=conversations,
        tickets=tickets,
        claim_log=claim_log,
        feedback=feedback,
        ownership=ownership,
        config=config,
        intake=Intake(
            tickets=tickets,
            conversations=conversations,
            config=config,
            clock=clock,
            opened=assigner.opened,
        ),
        claims=Claims(
            tickets=tickets, agents=agents, config=config, clock=clock, freed=assigner.freed
        ),
        holder=HolderActions(
            tickets=tickets,
            conversations=conversations,
            config=config,
            clock=clock,
            freed=assigner.freed,
        ),
        sweep=Sweep(tickets=tickets, config=config, clock=clock),
        reading=Reading(
            tickets=tickets,
            conversations=conversations,
            ownership=ownership,
            config=config,
            clock=clock,
        ),
        reports=Reports(
            tickets=tickets, claims=claim_log, feedback=feedback, ratings=ratings, clock=clock
        ),
        agents=agents,
        departments=departments,
        assigner=assigner,
        staff=Staff(
            agents=agents,
            tickets=tickets,
            config=config,
            clock=clock,
            freed=assigner.freed,
            available=assigner.available,
        ),
        note_store=note_store,
        ratings=ratings,
        action_audit=action_audit,
    )
