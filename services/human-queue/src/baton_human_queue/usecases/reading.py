"""What agents read: the queue, a ticket with its thread, a thread, who owned a thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from baton_contracts import TicketKind, TicketStatus, utc_now
from baton_conversations import ConversationStore, Message, Ownership, Thread

from ..domain import (
    ALL_STATUSES,
    Agent,
    NoTicketError,
    check_department_filter,
    check_thread_visible,
    lease_expired,
    lease_until,
)
from ..ports import OwnershipHistory, TicketQuery, TicketStore
from ..tickets import Ticket
from ._common import QueueConfig, visible


@dataclass(frozen=True)
class TicketContext:
    ticket: Ticket
    thread: Thread | None
    messages: list[Message]


class Reading:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        conversations: ConversationStore,
        ownership: OwnershipHistory,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._conversations = conversations
        self._ownership = ownership
        self._config = config
        self._now = clock

    async def search(
        self,
        agent: Agent,
        *,
        statuses: Sequence[TicketStatus],
        department: str | None = None,
        kind: TicketKind | None = None,
        thread_id: str | None = None,
        limit: int = 100,
    ) -> list[Ticket]:
        """The queue as ``agent`` sees it: its departments' tickets and those without one
        (a supervisor's: every ticket)."""
        check_department_filter(agent, department)
        return await self._tickets.search(
            TicketQuery(
                statuses=statuses,
                departments=agent.visible_departments,
                department=department,
                kind=kind,
                thread_id=thread_id,
                limit=limit,
            )
        )

    async def look(self, agent: Agent, ticket_id: str) -> TicketContext:
        """A ticket with its thread's recent messages; the holder's look renews the lease."""
        ticket = await visible(self._tickets, agent, ticket_id)
        now = self._now()
        if (
            ticket.status == "assigned"
            and ticket.holder is not None
            and ticket.holder.agent_id == agent.agent_id
            and ticket.claim_id is not None
            and not lease_expired(ticket, now)
        ):
            renewed = await self._tickets.renew(
                ticket_id,
                claim_id=ticket.claim_id,
                until=lease_until(now, self._config.lease_s),
                now=now,
            )
            ticket = renewed or ticket
        thread = await self._conversations.get_thread(ticket.thread_id)
        messages = (
            await self._conversations.window(thread, limit=self._config.context_messages)
            if thread is not None
            else []
        )
        return TicketContext(ticket, thread, messages)

    async def thread(self, agent: Agent, thread_id: str) -> Thread:
        """A thread ``agent`` may read: of its departments (or of none), and handed to people
        at least once by a ticket the agent may see. A thread only the AI ever worked on, with
        its tool traffic and drafts, is no agent's business."""
        thread = await self._conversations.require_thread(thread_id)
        check_thread_visible(agent, thread_id, thread.department)
        tickets = await self._tickets.search(
            TicketQuery(
                statuses=ALL_STATUSES,
                departments=agent.visible_departments,
                thread_id=thread_id,
                limit=1,
            )
        )
        if not tickets:
            raise NoTicketError(f"thread {thread_id} has no ticket {agent.name} may see")
        return thread

    async def thread_messages(
        self, agent: Agent, thread_id: str, *, limit: int
    ) -> tuple[Thread, list[Message]]:
        thread = await self.thread(agent, thread_id)
        return thread, await self._conversations.window(thread, limit=limit)

    async def ownership(self, agent: Agent, thread_id: str) -> list[Ownership]:
        """Who owned the thread, and when, oldest first."""
        await self.thread(agent, thread_id)
        return await self._ownership.of_thread(thread_id)
