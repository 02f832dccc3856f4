"""Moving work: transfer a ticket to another department or agent, a supervisor's
assignment over any claim, and a person's takeover of a conversation the AI owns.

Each is a claim on someone's behalf or a change of one, made like every other: a slot of
the receiver's capacity first, then one conditional write on the ticket that stores what
it leads to (the old claim closed and its slot given back, the thread's owner and
department, the transfer's note) in the ticket's outbox (decisions 12 and 18).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from baton_contracts import derive_id, utc_now
from baton_conversations import ConversationStore, Thread
from baton_runtime import Entry

from .. import metrics
from ..domain import (
    Agent,
    AtCapacityError,
    InvalidRequestError,
    UnknownTicketError,
    check_text,
    lease_until,
    optional_sla_due,
    sla_due,
)
from ..followups import (
    ClaimOpened,
    assign,
    end_claim,
    keep_note,
    move_thread,
    open_claim,
    opening,
)
from ..moving import (
    NotAiOwnedError,
    UnknownDepartmentError,
    check_assigner,
    check_mover,
    check_receiver,
    check_taker,
)
from ..notes import Note, NoteAuthor, note_at
from ..ports import AgentStore, Changed, DepartmentStore, TicketStore
from ..staffing import AgentState, Slot, UnknownAgentError
from ..tickets import ConversationTicket, ThreadTicket, Ticket
from ._common import ATTEMPTS, QueueConfig, follow_through, keeps_changing
from .assignment import hand_over
from .claims import Freed, give_back, staffed, take_ticket, tell

TAKEOVER_REASON = "takeover"
"""How a takeover's ``thread.assigned`` reason begins, for people and for dashboards."""


class MovingWork:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        agents: AgentStore,
        departments: DepartmentStore,
        conversations: ConversationStore,
        config: QueueConfig,
        max_note_length: int,
        agents_may_take_over: bool = False,
        clock: Callable[[], datetime] = utc_now,
        freed: Freed | None = None,
        placed: Callable[[Ticket], Awaitable[None]] | None = None,
    ) -> None:
        self._tickets = tickets
        self._agents = agents
        self._departments = departments
        self._conversations = conversations
        self._config = config
        self._max_note_length = max_note_length
        self._agents_may_take_over = agents_may_take_over
        self._now = clock
        self._freed = freed
        # Told of a ticket transferred to a department's queue: its policy hands it out.
        self._placed = placed

    # ------------------------------------------------------------ transfer

    async def transfer(
        self,
        agent: Agent,
        ticket_id: str,
        *,
        department: str | None = None,
        agent_id: str | None = None,
        note: str | None = None,
    ) -> Ticket:
        """Move a ticket to ``department`` (the ticket's own, if not given) and to
        ``agent_id``, or to that department's queue, where its policy applies. The holder
        or a supervisor transfers; the note is kept as an internal note."""
        if department is None and agent_id is None:
            raise InvalidRequestError("a transfer names a department, an agent, or both")
        if note is not None:
            check_text(note, max_length=self._max_note_length, what="the note")
        if department is not None:
            await self._check_department(department)
        for _ in range(ATTEMPTS):
            ticket = await self._get(ticket_id)
            now = self._now()
            check_mover(agent, ticket, now)
            target = department if department is not None else ticket.department
            receiver = None
            if agent_id is not None:
                receiver = await self._receiver(agent_id, target)
            changed = await self._move(agent, ticket, target, receiver, note, now)
            if changed is None:
                continue  # the ticket changed meanwhile: decide again on it as it is now
            metrics.transferred(ticket.department, target)
            moved = await follow_through(self._tickets, changed)
            if ticket.holder is not None:
                await tell(self._freed, ticket)  # the old holder has room again
            if receiver is None and self._placed is not None:
                await tell(self._placed, moved)
                return await self._get(ticket_id)  # as the new department's policy left it
            return moved
        raise keeps_changing(ticket_id)

    async def _move(
        self,
        agent: Agent,
        ticket: Ticket,
        target: str | None,
        receiver: AgentState | None,
        note: str | None,
        now: datetime,
    ) -> Changed | None:
        transfer_id = uuid.uuid4().hex
        follow_ups: list[Entry] = []
        if ticket.claim_id is not None:
            follow_ups += end_claim(ticket, ticket.claim_id, now, "transferred")
        claim_id = None
        if receiver is not None:
            claim_id = await self._slot(receiver, ticket, now)
            follow_ups.append(_opened(ticket, receiver, claim_id, target, now))
        if isinstance(ticket, ThreadTicket):
            if target != ticket.department:
                follow_ups.append(move_thread(ticket.thread_id, target, transfer_id))
            to = receiver.agent.name if receiver else f"the queue of {target or 'no department'}"
            follow_ups.append(
                assign(
                    ticket,
                    f"transfer:{transfer_id}",
                    owner="human",
                    agent_id=receiver.agent.agent_id if receiver else None,
                    reason=f"{agent.name} transferred ticket {ticket.ticket_id} to {to}",
                )
            )
        if note is not None:
            follow_ups.append(keep_note(self._note(agent, ticket, target, note, transfer_id, now)))
        changed = await self._tickets.transfer(
            ticket.ticket_id,
            seen_claim_id=ticket.claim_id,
            department=target,
            # What SLA breaches added stays: the ticket is as late as it was.
            priority=self._config.priority.priority(
                ticket.kind, tier=ticket.user_tier, department=target
            )
            + ticket.priority_raised,
            holder=receiver.agent.holding(target) if receiver else None,
            claim_id=claim_id,
            until=lease_until(now, self._config.lease_s) if receiver else None,
            now=now,
            follow_ups=follow_ups,
        )
        if changed is None and receiver is not None and claim_id is not None:
            await give_back(self._agents, receiver.agent.agent_id, claim_id)
        elif changed is not None and receiver is not None and ticket.first_claimed_at is None:
            metrics.first_assignment(ticket.kind, created_at=ticket.created_at, at=now)
        return changed

    def _note(
        self,
        agent: Agent,
        ticket: Ticket,
        department: str | None,
        text: str,
        transfer_id: str,
        now: datetime,
    ) -> Note:
        # Kept under the new department: the note is for the people who receive the ticket.
        # Its id derives from the transfer, so the follow-up stores it once however often
        # it is carried out (Notes.add's rule).
        return Note(
            note_id=ticket.event_id(f"transfer:{transfer_id}:note"),
            ticket_id=ticket.ticket_id,
            thread_id=ticket.thread_id,
            department=department,
            author=NoteAuthor.of(agent),
            text=text,
            created_at=note_at(now),
        )

    async def _slot(self, receiver: AgentState, ticket: Ticket, now: datetime) -> str:
        claim_id = uuid.uuid4().hex
        limit = receiver.capacity(self._config.staffing.default_capacity)
        if not await self._agents.take_slot(
            receiver.agent.agent_id,
            Slot(claim_id=claim_id, ticket_id=ticket.ticket_id, at=now),
            seen_capacity=receiver.agent.capacity,
            limit=limit,
        ):
            raise AtCapacityError(
                f"{receiver.agent.name} holds {limit} ticket(s), the most they may hold at once"
            )
        return claim_id

    async def _check_department(self, department: str) -> None:
        """A department is known when an agent serves it by name or it has a policy: a
        ticket sent anywhere else would wait where nobody looks."""
        policies = {**self._config.staffing.policies, **await self._departments.policies()}
        if department in policies:
            return
        if any(s.active for s in await self._agents.states(department=department)):
            return
        raise UnknownDepartmentError(
            f"no agent serves department {department!r} and it has no assignment policy"
        )

    async def _receiver(self, agent_id: str, department: str | None) -> AgentState:
        state = await self._agents.get(agent_id)
        if state is None:
            raise UnknownAgentError(f"agent {agent_id!r} does not exist")
        check_receiver(state, department)
        return state

    async def _get(self, ticket_id: str) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise UnknownTicketError(f"ticket {ticket_id!r} does not exist")
        return ticket

    # ------------------------------------------------------------ assign

    async def assign(self, supervisor: Agent, ticket_id: str, agent_id: str) -> Ticket:
        """A supervisor gives the ticket to ``agent_id``, over anyone's claim: the previous
        holder's slot is given back, the new holder's capacity holds."""
        for _ in range(ATTEMPTS):
            ticket = await self._get(ticket_id)
            check_assigner(supervisor, ticket)
            state = await self._receiver(agent_id, ticket.department)
            holder = ticket.holder
            if ticket.status == "assigned" and holder is not None and holder.agent_id == agent_id:
                return ticket  # theirs already: a repeated request changes nothing
            now = self._now()
            reason = f"{supervisor.name} assigned ticket {ticket.ticket_id} to {state.agent.name}"
            if ticket.status == "assigned" and ticket.claim_id is not None:
                changed = await hand_over(
                    self._tickets, self._agents, self._config, state, ticket, now=now, reason=reason
                )
            else:
                changed = await take_ticket(
                    self._tickets, self._agents, self._config, state, ticket, now=now, reason=reason
                )
            if changed is None:
                continue
            metrics.ACTIONS.labels(action="assign").inc()
            assigned = await follow_through(self._tickets, changed)
            if holder is not None:
                await tell(self._freed, ticket)
            return assigned
        raise keeps_changing(ticket_id)

    # ------------------------------------------------------------ takeover

    async def take_over(self, agent: Agent, thread_id: str) -> Ticket:
        """Step into a conversation the AI owns: a conversation ticket claimed by ``agent``,
        and the thread people's (``thread.assigned``, reason ``takeover: …``). A reply the
        AI finishes afterwards is held as a draft (the ai-responder checks the owner)."""
        thread = await self._conversations.require_thread(thread_id)
        check_taker(
            agent,
            thread_id,
            thread.department,
            agents_may_take_over=self._agents_may_take_over,
        )
        for _ in range(ATTEMPTS):
            open_ticket = await self._tickets.open_for_thread(thread_id)
            if thread.owner != "ai":
                held = open_ticket.holder if open_ticket is not None else None
                if open_ticket is not None and held is not None and held.agent_id == agent.agent_id:
                    return open_ticket  # taken over by this agent already: a repeated request
                raise NotAiOwnedError(f"people own thread {thread_id} already; claim its ticket")
            state = await staffed(self._agents, agent.agent_id)
            if not state.has_room(self._config.staffing.default_capacity):
                # Refused before a ticket is opened, so a full agent leaves nothing behind.
                limit = state.capacity(self._config.staffing.default_capacity)
                raise AtCapacityError(
                    f"{agent.name} holds {limit} ticket(s), the most they may hold at once"
                )
            ticket = open_ticket or await self._open(thread, agent)
            if ticket is None:
                thread = await self._conversations.require_thread(thread_id)
                continue  # another ticket was opened for the thread meanwhile
            now = self._now()
            reason = f"{TAKEOVER_REASON}: {agent.name} took the conversation over from the AI"
            if ticket.status == "assigned" and ticket.claim_id is not None:
                changed = await hand_over(
                    self._tickets, self._agents, self._config, state, ticket, now=now, reason=reason
                )
            else:
                changed = await take_ticket(
                    self._tickets, self._agents, self._config, state, ticket, now=now, reason=reason
                )
            if changed is None:
                thread = await self._conversations.require_thread(thread_id)
                continue
            metrics.TAKEOVERS.inc()
            return await follow_through(self._tickets, changed)
        raise keeps_changing(thread_id)

    async def _open(self, thread: Thread, agent: Agent) -> Ticket | None:
        """A conversation ticket for the takeover; None when the thread got one meanwhile."""
        now = self._now()
        takeover_id = uuid.uuid4()
        window = await self._conversations.window(thread, limit=self._config.context_messages)
        users = [m for m in window if m.role == "user"]
        latest = users[-1] if users else (window[-1] if window else None)
        message_id = latest.message_id if latest else derive_id(takeover_id, "no-message")
        priority = self._config.priority.priority(
            "conversation", tier=thread.user_tier, department=thread.department
        )
        ticket = ConversationTicket(
            ticket_id=str(derive_id(takeover_id, "ticket")),
            priority=priority,
            department=thread.department,
            thread_id=thread.thread_id,
            user_tier=thread.user_tier,
            user_message_id=message_id,
            message_ids=(message_id,),
            reason=f"{TAKEOVER_REASON} by {agent.name}",
            source_event_id=takeover_id,
            correlation_id=takeover_id,
            sla_due_at=sla_due(
                now, priority, self._config.sla_s, self._config.hours.of(thread.department)
            ),
            resolution_due_at=optional_sla_due(
                now,
                priority,
                self._config.resolution_sla_s,
                self._config.hours.of(thread.department),
            ),
            locale=thread.metadata.get("locale"),
            created_at=now,
            updated_at=now,
        )
        follow_ups = opening(ticket)
        if not await self._tickets.add(ticket, follow_ups=follow_ups):
            return None
        metrics.TICKETS_OPENED.labels(kind="conversation").inc()
        return await follow_through(self._tickets, Changed(ticket, follow_ups))


def _opened(
    ticket: Ticket, receiver: AgentState, claim_id: str, department: str | None, now: datetime
) -> Entry:
    return open_claim(
        ClaimOpened(
            claim_id=claim_id,
            ticket_id=ticket.ticket_id,
            thread_id=ticket.thread_id,
            kind=ticket.kind,
            department=department,
            agent_id=receiver.agent.agent_id,
            agent_name=receiver.agent.name,
            ticket_created_at=ticket.created_at,
            claimed_at=now,
        )
    )
