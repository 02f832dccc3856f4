"""The queue's use cases: open tickets, claim, act on them as their holder, sweep."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton_contracts import (
    HumanAgent,
    HumanRequestKind,
    Owner,
    RouteDecided,
    TicketKind,
    TicketStatus,
    ToolHumanRequested,
    derive_id,
    utc_now,
)
from baton_runtime import Document, EventPublisher, Unreadable
from baton_runtime.history import Message, MongoHistory, Thread

from . import effects as fx
from . import metrics
from .domain import (
    THREAD_KINDS,
    Action,
    Agent,
    AlreadyClaimedError,
    Handback,
    Holder,
    PriorityRules,
    Ticket,
    UnknownTicketError,
    WrongDepartmentError,
    WrongStateError,
    answer_event,
    approved_event,
    approved_text,
    check_holder,
    check_kind,
    check_text,
    check_visible,
    claim_verdict,
    lease_expired,
    lease_expired_event,
    lease_until,
    milliseconds,
    rejected_event,
    repeated_resolution,
    reply_events,
    sla_breached_event,
    sla_seconds,
    thread_assigned,
)
from .effects import AiOutput, ClaimOpened, Effect, Feedback
from .labour import ClaimSpan, LabourReport, labour_report
from .store import UNCLAIMED, ClaimLog, FeedbackStore, TicketLocks, TicketStore, ticket_document

log = logging.getLogger(__name__)

ATTEMPTS = 5
"""Re-reads of a ticket that changed between reading and updating it, before giving up."""

Outcome = Document | Ticket | None
"""What one attempt at changing a ticket ends with: the changed ticket's document (its
outbox still to carry out), a ticket with nothing to carry out, or None: try again."""

MAX_REVIEW_LENGTH = 4000

SWEEP_ROUND = 200
"""Tickets of each kind (lapsed leases, SLA breaches, unsent outboxes) a sweep round takes."""


@dataclass(frozen=True)
class QueueConfig:
    lease_s: float
    sla_s: Mapping[int, float]
    priority: PriorityRules
    max_text_length: int
    context_messages: int
    outbox_grace_s: float


@dataclass(frozen=True)
class TicketContext:
    ticket: Ticket
    thread: Thread | None
    messages: list[Message]


@dataclass(frozen=True)
class Reply:
    ticket: Ticket
    message_id: uuid.UUID


class Queue:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        claims: ClaimLog,
        feedback: FeedbackStore,
        locks: TicketLocks,
        history: MongoHistory,
        publisher: EventPublisher,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._claims = claims
        self._feedback = feedback
        self._locks = locks
        self._history = history
        self._publisher = publisher
        self._config = config
        self._now = clock
        self._unreadable = Unreadable(reader="queue sweep", kind="ticket")

    # ------------------------------------------------------------ opening tickets

    async def open_conversation(self, event: RouteDecided) -> None:
        """The router gave a user message to people: queue it, or add it to the thread's
        open conversation ticket."""
        thread = await self._history.require_thread(event.thread_id)
        await self._open(
            "conversation",
            event_id=event.event_id,
            correlation_id=event.correlation_id,
            thread=thread,
            message_id=event.message_id,
            department=event.department or thread.department,
            user_tier=event.user_tier or thread.user_tier,
            details={"reason": event.reason, "route_strategy": event.strategy},
        )

    async def open_request(self, event: ToolHumanRequested) -> None:
        """The AI asks a person: a question, an approval, or an escalation of the thread."""
        thread = await self._history.require_thread(event.thread_id)
        kind: HumanRequestKind = event.kind
        await self._open(
            kind,
            event_id=event.event_id,
            correlation_id=event.correlation_id,
            thread=thread,
            message_id=event.message_id,
            department=event.department or thread.department,
            user_tier=event.user_tier or thread.user_tier,
            details={
                "reason": event.reason,
                "question": event.question,
                "context": event.context,
                "suggestion": event.suggestion,
                "confidence": event.confidence,
                "draft_message_id": event.draft_message_id,
                "draft_text": event.draft_text,
                "tool_call_id": event.tool_call_id,
                "request_id": event.request_id,
            },
        )

    async def _open(
        self,
        kind: TicketKind,
        *,
        event_id: uuid.UUID,
        correlation_id: uuid.UUID,
        thread: Thread,
        message_id: uuid.UUID,
        department: str | None,
        user_tier: str | None,
        details: Document,
    ) -> None:
        now = self._now()
        ticket_id = str(derive_id(event_id, "ticket"))
        priority = self._config.priority.priority(kind, tier=user_tier, department=department)
        opens_thread = kind in THREAD_KINDS
        doc = ticket_document(
            ticket_id=ticket_id,
            kind=kind,
            priority=priority,
            department=department,
            thread_id=thread.thread_id,
            user_tier=user_tier,
            user_message_id=message_id,
            source_event_id=event_id,
            correlation_id=correlation_id,
            sla_due_at=now + timedelta(seconds=sla_seconds(priority, self._config.sla_s)),
            now=now,
            opens_thread=opens_thread,
            **details,
        )
        for _ in range(ATTEMPTS):
            if opens_thread:
                open_ticket = await self._tickets.open_for_thread(thread.thread_id)
                if open_ticket is not None:
                    # Escalating a thread already queued keeps one ticket, with the AI's notes.
                    extra = {k: v for k, v in details.items() if v is not None and k != "reason"}
                    async with self._locks.hold(open_ticket["_id"]):
                        attached = await self._tickets.attach(
                            open_ticket["_id"], message_id, now=now, details=_plain(extra)
                        )
                    if attached is not None:
                        metrics.MESSAGES_ATTACHED.inc()
                        return
                    continue  # resolved meanwhile: open a new one
            if await self._tickets.insert(doc):
                metrics.TICKETS_OPENED.labels(kind=kind).inc()
                return
            if await self._tickets.get(ticket_id) is not None:
                return  # this event made its ticket before: a replay
        raise RuntimeError(f"could not queue message {message_id} of thread {thread.thread_id}")

    # ------------------------------------------------------------ reading

    async def search(
        self,
        agent: Agent,
        *,
        statuses: Sequence[TicketStatus],
        department: str | None,
        kind: TicketKind | None,
        thread_id: str | None,
        limit: int,
    ) -> list[Ticket]:
        if department is not None and not agent.serves(department):
            raise WrongDepartmentError(f"{agent.name} does not serve department {department!r}")
        docs = await self._tickets.search(
            statuses=statuses,
            departments=agent.departments,
            department=department,
            kind=kind,
            thread_id=thread_id,
            limit=limit,
        )
        return [Ticket.from_document(d) for d in docs]

    async def get(self, agent: Agent, ticket_id: str) -> TicketContext:
        """A ticket with its thread's recent messages; the holder's look renews the lease."""
        ticket = await self._visible(agent, ticket_id)
        now = self._now()
        if (
            ticket.status == "assigned"
            and ticket.holder is not None
            and ticket.holder.agent_id == agent.agent_id
            and ticket.claim_id is not None
            and not lease_expired(ticket, now)
        ):
            async with self._locks.hold(ticket_id):
                renewed = await self._tickets.renew(
                    ticket_id,
                    claim_id=ticket.claim_id,
                    now=now,
                    until=lease_until(now, self._config.lease_s),
                )
            if renewed is not None:
                ticket = Ticket.from_document(renewed)
        thread = await self._history.get_thread(ticket.thread_id)
        messages = await self._history.messages(
            ticket.thread_id, limit=self._config.context_messages
        )
        return TicketContext(ticket, thread, messages)

    async def thread_messages(
        self, agent: Agent, thread_id: str, *, limit: int
    ) -> tuple[Thread, list[Message]]:
        thread = await self._history.require_thread(thread_id)
        if not agent.serves(thread.department):
            raise WrongDepartmentError(
                f"thread {thread_id} belongs to department {thread.department!r}, "
                f"which {agent.name} does not serve"
            )
        return thread, await self._history.messages(thread_id, limit=limit)

    # ------------------------------------------------------------ claims

    async def claim(self, agent: Agent, ticket_id: str) -> Ticket:
        """Claim a ticket (or renew one's own claim). Of concurrent claims exactly one wins:
        each decides under the ticket's lock, and the first to decide takes it."""

        async def attempt() -> Outcome:
            ticket = await self._visible(agent, ticket_id)
            now = self._now()
            until = lease_until(now, self._config.lease_s)
            try:
                verdict = claim_verdict(agent, ticket, now)
            except Exception:
                metrics.CLAIMS.labels(outcome="conflict").inc()
                raise
            if verdict == "renew":
                renewed = await self._tickets.renew(
                    ticket_id, claim_id=holder_claim(ticket), now=now, until=until
                )
                if renewed is None:
                    return None
                metrics.CLAIMS.labels(outcome="renewed").inc()
                return Ticket.from_document(renewed)

            claim_id = uuid.uuid4().hex
            holder = Holder(
                agent.agent_id, agent.name, agent.acting_for(ticket.department).department
            )
            effects: list[Effect] = []
            if ticket.claim_id is not None:  # a lapsed claim the sweep has not returned yet
                effects += self._lapse_effects(ticket, ticket.claim_id, previous_owner="human")
            effects.append(
                fx.open_claim(
                    ClaimOpened(
                        claim_id=claim_id,
                        ticket_id=ticket.ticket_id,
                        thread_id=ticket.thread_id,
                        kind=ticket.kind,
                        department=ticket.department,
                        agent_id=agent.agent_id,
                        agent_name=agent.name,
                        ticket_created_at=ticket.created_at,
                        claimed_at=now,
                    )
                )
            )
            if ticket.kind in THREAD_KINDS:
                purpose = f"claim:{claim_id}"
                effects += [
                    fx.set_owner(purpose, ticket.thread_id, "human", agent.agent_id),
                    fx.publish(
                        thread_assigned(
                            ticket,
                            purpose,
                            owner="human",
                            previous_owner=await self._owner(ticket.thread_id),
                            agent_id=agent.agent_id,
                            reason=f"{agent.name} claimed ticket {ticket.ticket_id}",
                        )
                    ),
                ]
            claimed = await self._tickets.claim(
                ticket_id,
                previous_claim_id=ticket.claim_id,
                now=now,
                fields={
                    "holder": holder.to_document(),
                    "claim_id": claim_id,
                    "claimed_at": now,
                    "lease_expires_at": until,
                },
                effects=effects,
            )
            if claimed is not None:
                metrics.CLAIMS.labels(outcome="claimed").inc()
                if ticket.first_claimed_at is None:
                    metrics.first_claim(ticket.kind, created_at=ticket.created_at, claimed_at=now)
            return claimed

        async def still_free() -> None:
            # A claimer waiting for the lock learns it lost as soon as the winner is in.
            try:
                claim_verdict(agent, await self._visible(agent, ticket_id), self._now())
            except AlreadyClaimedError:
                metrics.CLAIMS.labels(outcome="conflict").inc()
                raise

        return await self._locked(ticket_id, attempt, while_waiting=still_free)

    async def release(self, agent: Agent, ticket_id: str) -> Ticket:
        """Give the ticket back to the queue at once."""

        async def attempt() -> Outcome:
            ticket = await self._visible(agent, ticket_id)
            now = self._now()
            own_lapsed = (
                ticket.holder is not None
                and ticket.holder.agent_id == agent.agent_id
                and lease_expired(ticket, now)
            )
            if not own_lapsed:  # letting go of one's own lapsed claim is what the sweep does
                check_holder(agent, ticket, now)
            claim_id = holder_claim(ticket)
            effects = [fx.close_claim(claim_id, now, "released")]
            if ticket.kind in THREAD_KINDS:
                purpose = f"release:{claim_id}"
                effects += [
                    fx.set_owner(purpose, ticket.thread_id, "human", None),
                    fx.publish(
                        thread_assigned(
                            ticket,
                            purpose,
                            owner="human",
                            previous_owner=await self._owner(ticket.thread_id),
                            agent_id=None,
                            reason=f"{agent.name} released ticket {ticket.ticket_id}",
                        )
                    ),
                ]
            released = await self._tickets.change_held(
                ticket_id,
                claim_id=claim_id,
                now=now,
                fields=dict(UNCLAIMED),
                effects=effects,
                live_lease=False,
            )
            if released is not None:
                metrics.ACTIONS.labels(action="release").inc()
            return released

        return await self._locked(ticket_id, attempt)

    # ------------------------------------------------------------ acting as the holder

    async def reply(
        self, agent: Agent, ticket_id: str, text: str, *, idempotency_key: str | None
    ) -> Reply:
        """Write to the user in the thread, as the agent, under the agent's name."""
        check_text(text, max_length=self._config.max_text_length)
        fallback_id = uuid.uuid4()
        replied = False

        def message_id_for(ticket: Ticket) -> uuid.UUID:
            if idempotency_key is None:
                return fallback_id
            return derive_id(ticket.ticket_uuid, f"reply:{agent.agent_id}:{idempotency_key}")

        async def attempt() -> Outcome:
            nonlocal replied
            ticket, doc = await self._visible_document(agent, ticket_id)
            check_kind(ticket, "reply")
            message_id = message_id_for(ticket)
            if message_id in ticket.replies:  # the same request again
                return doc
            now = self._now()
            holder = check_holder(agent, ticket, now)
            thread = await self._history.require_thread(ticket.thread_id)
            human = holder.as_agent()
            waited = milliseconds(ticket.created_at, now)
            message = Message(
                message_id=message_id,
                thread_id=ticket.thread_id,
                role="assistant",
                content=text,
                agent_name=agent.name,
                provider="human",
                metadata={
                    "provider_metadata": {
                        "human": {
                            "agent_id": agent.agent_id,
                            "name": agent.name,
                            "department": human.department,
                            "response_time_ms": waited,
                        }
                    },
                    "ticket_id": ticket.ticket_id,
                },
                in_reply_to=ticket.latest_message_id,
                created_at=now,
            )
            responded, sent = reply_events(
                ticket,
                message_id=message_id,
                text=text,
                agent=human,
                user_id=thread.user_id,
                channel=thread.channel,
                response_time_ms=waited,
            )
            effects = [fx.store_message(message)]
            if ticket.suggestion:
                feedback = self._feedback_of(
                    ticket, "reply", human, now, purpose=f"reply:{message_id}", human_text=text
                )
                effects.append(fx.record_feedback(feedback))
            effects += [fx.publish(responded), fx.publish(sent)]
            changed = await self._tickets.change_held(
                ticket_id,
                claim_id=holder_claim(ticket),
                now=now,
                fields={"lease_expires_at": lease_until(now, self._config.lease_s)},
                effects=effects,
                responds=True,
                reply_id=message_id,
            )
            if changed is not None:
                self._responded(ticket, now)
                metrics.ACTIONS.labels(action="reply").inc()
                replied = True
            return changed

        ticket = await self._locked(ticket_id, attempt)
        if replied:
            await self._count_reply(ticket)
        return Reply(ticket, message_id_for(ticket))

    async def _count_reply(self, ticket: Ticket) -> None:
        """Count the reply with the AI's, its latency from the user message it answers."""
        try:
            asked = await self._history.get_message(ticket.latest_message_id)
        except Exception:
            # The reply is stored and on its way; a failed lookup only costs one latency sample.
            log.warning("no latency sample for a reply on ticket %s", ticket.ticket_id)
            asked = None
        metrics.human_reply_sent(user_message_at=asked.created_at if asked else None)

    async def answer(self, agent: Agent, ticket_id: str, text: str) -> Ticket:
        """Answer the AI's question; the AI continues its turn with the answer."""
        check_text(text, max_length=self._config.max_text_length)

        def follow_ups(ticket: Ticket, human: Holder, now: datetime) -> list[Effect]:
            event = answer_event(
                ticket,
                text=text,
                agent=human.as_agent(),
                response_time_ms=milliseconds(ticket.created_at, now),
            )
            feedback = self._feedback_of(ticket, "answer", human.as_agent(), now, human_text=text)
            return [fx.record_feedback(feedback), fx.publish(event)]

        return await self._finish(agent, ticket_id, "answer", follow_ups)

    async def approve(self, agent: Agent, ticket_id: str, text: str | None) -> Ticket:
        """Approve the AI's draft, as written or with the agent's edit."""
        if text is not None:
            check_text(text, max_length=self._config.max_text_length)

        def follow_ups(ticket: Ticket, human: Holder, now: datetime) -> list[Effect]:
            final, edited = approved_text(ticket.draft_text, text)
            event = approved_event(ticket, text=final, edited=edited, agent=human.as_agent())
            feedback = self._feedback_of(
                ticket, "approval", human.as_agent(), now, human_text=final, edited=edited
            )
            return [fx.record_feedback(feedback), fx.publish(event)]

        return await self._finish(agent, ticket_id, "approve", follow_ups)

    async def reject(self, agent: Agent, ticket_id: str, review: str) -> Ticket:
        """Reject the AI's draft; the AI follows its rejection fallback."""
        check_text(review, max_length=MAX_REVIEW_LENGTH, what="review")

        def follow_ups(ticket: Ticket, human: Holder, now: datetime) -> list[Effect]:
            event = rejected_event(ticket, review=review, agent=human.as_agent())
            feedback = self._feedback_of(ticket, "rejection", human.as_agent(), now, review=review)
            return [fx.record_feedback(feedback), fx.publish(event)]

        return await self._finish(agent, ticket_id, "reject", follow_ups)

    async def resolve(self, agent: Agent, ticket_id: str, handback: Handback) -> Ticket:
        """Close a conversation ticket; ``ai`` hands the thread back to the AI."""

        async def owner_change(ticket: Ticket) -> list[Effect]:
            owner: Owner = "ai" if handback == "ai" else "human"
            reason = (
                f"{agent.name} resolved ticket {ticket.ticket_id} and handed the thread "
                "back to the AI"
                if handback == "ai"
                else f"{agent.name} resolved ticket {ticket.ticket_id}; people keep the thread"
            )
            return [
                fx.set_owner("resolve", ticket.thread_id, owner, None),
                fx.publish(
                    thread_assigned(
                        ticket,
                        "resolve",
                        owner=owner,
                        previous_owner=await self._owner(ticket.thread_id),
                        agent_id=None,
                        reason=reason,
                    )
                ),
            ]

        return await self._finish(
            agent, ticket_id, "resolve", lambda *_: [], handback=handback, before=owner_change
        )

    async def _finish(
        self,
        agent: Agent,
        ticket_id: str,
        action: Action,
        follow_ups: Callable[[Ticket, Holder, datetime], list[Effect]],
        *,
        handback: Handback | None = None,
        before: Callable[[Ticket], Awaitable[list[Effect]]] | None = None,
    ) -> Ticket:
        """Resolve the ticket with ``action``; a repeat of the same request by the same
        agent finds it done and returns it."""

        async def attempt() -> Outcome:
            ticket, doc = await self._visible_document(agent, ticket_id)
            check_kind(ticket, action)
            if repeated_resolution(agent, ticket, action):
                return doc
            now = self._now()
            holder = check_holder(agent, ticket, now)
            claim_id = holder_claim(ticket)
            effects = [fx.close_claim(claim_id, now, "resolved")]
            if before is not None:
                effects += await before(ticket)
            effects += follow_ups(ticket, holder, now)
            resolution = {
                "action": action,
                "agent_id": agent.agent_id,
                "agent_name": agent.name,
                "at": now,
                "handback": handback,
            }
            changed = await self._tickets.change_held(
                ticket_id,
                claim_id=claim_id,
                now=now,
                fields={
                    "status": "resolved",
                    "resolved_at": now,
                    "resolution": resolution,
                    "lease_expires_at": None,
                },
                effects=effects,
                responds=True,
                closes=True,
            )
            if changed is not None:
                self._responded(ticket, now)
                metrics.ACTIONS.labels(action=action).inc()
            return changed

        return await self._locked(ticket_id, attempt)

    async def _locked(
        self,
        ticket_id: str,
        attempt: Callable[[], Awaitable[Outcome]],
        *,
        while_waiting: Callable[[], Awaitable[None]] | None = None,
    ) -> Ticket:
        """Run ``attempt`` holding the ticket's lock, then carry out what it stored.

        The follow-ups (Kafka, other collections) run after the lock is released, so a slow
        broker holds up no other writer of the ticket.
        """
        for _ in range(ATTEMPTS):
            async with self._locks.hold(ticket_id, while_waiting=while_waiting):
                outcome = await attempt()
            if isinstance(outcome, Ticket):
                return outcome
            if outcome is not None:
                return await self._carry_out(outcome)
        raise WrongStateError(f"ticket {ticket_id} keeps changing; try again")

    # ------------------------------------------------------------ sweeping

    async def sweep(self) -> None:
        """Return lapsed claims to the queue, flag SLA breaches, and send what requests
        left unsent."""
        now = self._now()
        for ticket in self._readable(await self._tickets.expired_leases(now, limit=self._round())):
            claim_id = ticket.claim_id
            if claim_id is None:
                continue
            effects = self._lapse_effects(
                ticket, claim_id, previous_owner=await self._owner(ticket.thread_id)
            )
            if ticket.kind in THREAD_KINDS:
                effects.insert(
                    1, fx.set_owner(f"expire:{claim_id}", ticket.thread_id, "human", None)
                )
            async with self._locks.hold(ticket.ticket_id):
                expired = await self._tickets.expire(
                    ticket.ticket_id, claim_id=claim_id, now=now, effects=effects
                )
            if expired is not None:
                metrics.LEASES_EXPIRED.inc()
                await self._carry_out(expired)
        for ticket in self._readable(await self._tickets.sla_due(now, limit=self._round())):
            async with self._locks.hold(ticket.ticket_id):
                flagged = await self._tickets.flag_sla_breach(
                    ticket.ticket_id, now=now, effects=[fx.publish(sla_breached_event(ticket))]
                )
            if flagged is not None:
                metrics.SLA_BREACHES.labels(kind=ticket.kind).inc()
                await self._carry_out(flagged)
        before = now - timedelta(seconds=self._config.outbox_grace_s)
        for doc in await self._tickets.unsent(before, limit=self._round()):
            if self._readable([doc]):
                await self._carry_out(doc)

    def _round(self) -> int:
        """How many tickets of each kind a sweep round takes up: unreadable ones met before
        (left for a person) do not take up the room of the others."""
        return SWEEP_ROUND + self._unreadable.count

    def _readable(self, docs: list[Document]) -> list[Ticket]:
        """The tickets among ``docs`` that the sweep can read (:class:`Unreadable`)."""
        return self._unreadable.parse(docs, Ticket.from_document)

    def _lapse_effects(
        self, ticket: Ticket, claim_id: str, *, previous_owner: Owner | None
    ) -> list[Effect]:
        """Follow-ups of a claim whose lease ran out: the same ids whoever notices it."""
        assert ticket.lease_expires_at is not None
        effects = [fx.close_claim(claim_id, ticket.lease_expires_at, "expired")]
        if ticket.kind in THREAD_KINDS:
            holder = ticket.holder.name if ticket.holder else "the agent"
            effects.append(
                fx.publish(
                    thread_assigned(
                        ticket,
                        f"expire:{claim_id}",
                        owner="human",
                        previous_owner=previous_owner,
                        agent_id=None,
                        reason=f"the claim of {holder} on ticket {ticket.ticket_id} expired",
                    )
                )
            )
        effects.append(fx.publish(lease_expired_event(ticket, claim_id=claim_id)))
        return effects

    # ------------------------------------------------------------ reports

    async def labour(self, since: datetime, until: datetime) -> LabourReport:
        tickets = [
            Ticket.from_document(d) for d in await self._tickets.created_between(since, until)
        ]
        spans = [
            ClaimSpan.from_document(d)
            for d in await self._claims.for_tickets([t.ticket_id for t in tickets])
        ]
        return labour_report(tickets, spans, since=since, until=until, now=self._now())

    # ------------------------------------------------------------ helpers

    async def _visible(self, agent: Agent, ticket_id: str) -> Ticket:
        ticket, _ = await self._visible_document(agent, ticket_id)
        return ticket

    async def _visible_document(self, agent: Agent, ticket_id: str) -> tuple[Ticket, Document]:
        doc = await self._tickets.get(ticket_id)
        if doc is None:
            raise UnknownTicketError(f"ticket {ticket_id!r} does not exist")
        ticket = Ticket.from_document(doc)
        check_visible(agent, ticket)
        return ticket, doc

    async def _owner(self, thread_id: str) -> Owner | None:
        thread = await self._history.get_thread(thread_id)
        return thread.owner if thread else None

    def _feedback_of(
        self,
        ticket: Ticket,
        kind: fx.FeedbackKind,
        agent: HumanAgent,
        now: datetime,
        *,
        purpose: str | None = None,
        **human: object,
    ) -> Feedback:
        if ticket.kind == "approval":
            output = AiOutput(
                kind="draft",
                text=ticket.draft_text,
                message_id=ticket.draft_message_id,
                request_id=ticket.request_id,
                reason=ticket.reason,
            )
        elif ticket.kind == "question":
            output = AiOutput(
                kind="question",
                text=ticket.question,
                request_id=ticket.request_id,
                tool_call_id=ticket.tool_call_id,
                reason=ticket.reason,
            )
        else:
            output = AiOutput(
                kind="suggestion",
                text=ticket.suggestion,
                request_id=ticket.request_id,
                reason=ticket.reason,
            )
        return Feedback.model_validate(
            {
                "feedback_id": str(ticket.event_id(f"feedback:{purpose or kind}")),
                "kind": kind,
                "ticket_id": ticket.ticket_id,
                "thread_id": ticket.thread_id,
                "ai_output": output,
                "agent": agent,
                "at": now,
                **human,
            }
        )

    def _responded(self, ticket: Ticket, now: datetime) -> None:
        if ticket.first_response_at is None:
            metrics.RESPONSE_SECONDS.labels(kind=ticket.kind).observe(
                (now - ticket.created_at).total_seconds()
            )

    async def _carry_out(self, doc: Document) -> Ticket:
        """Carry out the ticket's outbox in order, then drop the entries done.

        A failure (Kafka or MongoDB unreachable) is left to the sweep: the change itself
        is stored, so the request still succeeds and the follow-ups happen later.
        """
        entries: list[Document] = list(doc.get("outbox") or ())
        done: list[Document] = []
        try:
            for entry in entries:
                await self._apply(Effect.from_document(entry))
                done.append(entry)
        except Exception:
            log.warning("follow-ups of ticket %s left for the sweep", doc["_id"], exc_info=True)
        if done:
            try:
                async with self._locks.hold(doc["_id"]):
                    await self._tickets.done(doc["_id"], done)
            except Exception:
                log.warning("could not clear the outbox of ticket %s", doc["_id"], exc_info=True)
        return Ticket.from_document(doc)

    async def _apply(self, effect: Effect) -> None:
        payload = effect.payload()
        if isinstance(payload, fx.StoredMessage):
            await self._history.append(payload.to_message())
        elif isinstance(payload, fx.OwnerChange):
            await self._history.set_owner(payload.thread_id, payload.owner, payload.agent_id)
        elif isinstance(payload, Feedback):
            await self._feedback.add(payload)
        elif isinstance(payload, ClaimOpened):
            await self._claims.opened(payload)
        elif isinstance(payload, fx.ClaimClosed):
            await self._claims.closed(payload)
        else:
            await self._publisher.publish([payload])


def holder_claim(ticket: Ticket) -> str:
    """The claim of a ticket someone holds (checked by the caller)."""
    assert ticket.claim_id is not None
    return ticket.claim_id


def _plain(values: Document) -> Document:
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in values.items()}
