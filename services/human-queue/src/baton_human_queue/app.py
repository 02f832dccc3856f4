"""The human queue's composition root: the one place that wires adapters into handlers."""

from __future__ import annotations

import functools

from fastapi import FastAPI

from baton_contracts import (
    ActionExecuted,
    RouteDecided,
    ThreadAssigned,
    ThreadRated,
    TicketSummarized,
    ToolHumanRequested,
    topics,
)
from baton_conversations import Conversations, OwnershipLog, on_thread_assigned
from baton_runtime import (
    HandledEvents,
    KafkaEventPublisher,
    Outbox,
    build_broker,
    configure_tracing,
    connect_mongo,
    database,
    event_runner,
    every,
    service_app,
    subscribe,
)

from . import metrics
from .agents import Agents
from .api import api_router
from .console import console_router
from .followups import FollowUps
from .handlers import (
    on_action_executed,
    on_route_decided,
    on_thread_rated,
    on_ticket_summarized,
    on_tool_human_requested,
    routed_to_people,
)
from .live import Live, agent_by_token_hash, live_router
from .settings import Settings
from .store import (
    MongoActionAudit,
    MongoAgents,
    MongoClaims,
    MongoDepartments,
    MongoFeedback,
    MongoTickets,
)
from .store.canned import MongoCanned
from .store.notes import MongoNotes
from .store.ratings import MongoRatings
from .usecases import (
    ActionRecords,
    Assigner,
    Claims,
    HolderActions,
    Intake,
    QueueConfig,
    Ratings,
    Reading,
    Reports,
    Staff,
    Summaries,
    Sweep,
)
from .usecases.canned import CannedResponses
from .usecases.moving import MovingWork
from .usecases.notes import Notes

SERVICE = "baton-human-queue"
PICKUP_MS = 200
"""How long a record for people may wait before this service picks it up."""

TOPICS = (
    topics.ROUTE_DECIDED,
    topics.TOOL_HUMAN_REQUESTED,
    topics.HUMAN_RESPONDED,
    topics.DRAFT_APPROVED,
    topics.DRAFT_REJECTED,
    topics.MESSAGE_SENT,
    topics.THREAD_ASSIGNED,
    topics.TICKET_OPENED,
    topics.TICKET_SUMMARIZED,
    topics.TICKET_EXPIRED,
    topics.TICKET_LEASE_EXPIRED,
    topics.TICKET_SLA_BREACHED,
    topics.THREAD_RATED,
    topics.AGENT_STATUS_CHANGED,
    topics.ACTION_DECIDED,
    topics.ACTION_EXECUTED,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_tracing(SERVICE)
    broker = build_broker(settings.kafka, client_id=SERVICE)
    mongo = connect_mongo(settings.mongo, app_name=SERVICE)
    db = database(mongo, settings.mongo)
    publisher = KafkaEventPublisher(broker, settings.kafka)
    conversations = Conversations(db, publisher)
    ownership = OwnershipLog(db)
    claim_log = MongoClaims(db)
    feedback = MongoFeedback(db)
    ratings = MongoRatings(db)
    # Presence changes carry their agent.status_changed in the agent's document (outbox).
    agent_store = MongoAgents(db, Outbox(publisher))
    # A ticket change's follow-ups: events, and the kinds below, carried out after the
    # change is stored (and by the sweep, after a crash).
    note_store = MongoNotes(db)
    action_audit = MongoActionAudit(db)
    action_records = ActionRecords(audit=action_audit)
    follow_ups = FollowUps(
        conversations=conversations,
        claims=claim_log,
        feedback=feedback,
        agents=agent_store,
        notes=note_store,
        audit=action_audit,
    )
    tickets = MongoTickets(db, Outbox(publisher, kinds=follow_ups.kinds()))
    config = QueueConfig(
        lease_s=settings.lease_s,
        sla_s=settings.sla_s,
        priority=settings.priority,
        max_text_length=settings.max_text_length,
        context_messages=settings.context_messages,
        outbox_grace_s=settings.outbox_grace_s,
        staffing=settings.staffing,
        question_timeout=settings.question_timeout,
        action_timeout=settings.action_timeout,
        next_response_sla_s=settings.next_response_sla_s,
        resolution_sla_s=settings.resolution_sla_s,
        sla_raise=settings.sla_priority_step,
        hours=settings.business_hours.table(),
        notices=settings.notice_rules(),
    )
    # Auto-assignment: told when a ticket opens, a claim ends or an agent comes online,
    # and run by the sweep for what those missed (and for failover).
    departments = MongoDepartments(db)
    assigner = Assigner(tickets=tickets, agents=agent_store, departments=departments, config=config)
    staff = Staff(
        agents=agent_store,
        tickets=tickets,
        config=config,
        freed=assigner.freed,
        available=assigner.available,
    )
    intake = Intake(
        tickets=tickets, conversations=conversations, config=config, opened=assigner.opened
    )
    reading = Reading(
        tickets=tickets, conversations=conversations, ownership=ownership, config=config
    )
    agents = Agents(agent_store)
    # The live console: ticket changes pushed to agents' streams (server-sent events).
    live = Live.build(db, settings.live, agent_by_token_hash=agent_by_token_hash(agent_store))
    canned_store = MongoCanned(db)

    runner = event_runner(
        broker,
        publisher,
        service=SERVICE,
        # A message attached to a ticket that has since been resolved must not open a
        # new ticket when Kafka delivers it again.
        handled=HandledEvents(db, service=SERVICE, outbox=Outbox(publisher)),
    )
    # Tickets wait for people: a record may wait PICKUP_MS, so this consumer does not wake
    # for each of the AI's routes, which it only skips.
    on = functools.partial(subscribe, settings.kafka, group=SERVICE, pickup_ms=PICKUP_MS)
    consumers = [
        on(
            runner,
            topic=topics.ROUTE_DECIDED,
            event_type=RouteDecided,
            handler=functools.partial(on_route_decided, intake=intake),
            wants=routed_to_people,
        ),
        on(
            runner,
            topic=topics.TOOL_HUMAN_REQUESTED,
            event_type=ToolHumanRequested,
            handler=functools.partial(on_tool_human_requested, intake=intake),
        ),
        # The ownership log keeps each change once, by its event id: no handled-events log.
        on(
            event_runner(broker, publisher, service=SERVICE),
            topic=topics.THREAD_ASSIGNED,
            event_type=ThreadAssigned,
            handler=functools.partial(on_thread_assigned, log=ownership),
        ),
        # The users' ratings are kept once by their event id: no handled-events log.
        on(
            event_runner(broker, publisher, service=SERVICE),
            topic=topics.THREAD_RATED,
            event_type=ThreadRated,
            handler=functools.partial(on_thread_rated, ratings=Ratings(ratings=ratings)),
        ),
        # A ticket keeps the first summary written (a conditional write): no handled-events
        # log either.
        on(
            event_runner(broker, publisher, service=SERVICE),
            topic=topics.TICKET_SUMMARIZED,
            event_type=TicketSummarized,
            handler=functools.partial(on_ticket_summarized, summaries=Summaries(tickets=tickets)),
        ),
        # The audit keeps each tool call's record once, by its event id: no handled-events log.
        on(
            event_runner(broker, publisher, service=SERVICE),
            topic=topics.ACTION_EXECUTED,
            event_type=ActionExecuted,
            handler=functools.partial(on_action_executed, records=action_records),
        ),
    ]

    app = service_app(
        title="Baton human queue",
        service=SERVICE,
        summary="Tickets for people: claim, reply, answer the AI, approve drafts, hand back.",
        broker=broker,
        mongo=mongo,
        db=db,
        kafka=settings.kafka,
        topics=TOPICS,
        consumers=consumers,
        http=settings.http,
        on_start=[
            conversations.ensure_indexes,
            ownership.ensure_indexes,
            tickets.ensure_indexes,
            claim_log.ensure_indexes,
            feedback.ensure_indexes,
            action_audit.ensure_indexes,
            agent_store.ensure_indexes,
            note_store.ensure_indexes,
            ratings.ensure_indexes,
            canned_store.ensure_indexes,
            live.ensure_indexes,
        ],
        background=[
            every(
                settings.sweep_interval_s,
                Sweep(tickets=tickets, config=config),
                what="queue sweep",
            ),
            every(settings.sweep_interval_s, staff, what="team sweep"),
            every(settings.sweep_interval_s, assigner, what="assignment round"),
            every(
                metrics.REFRESH_INTERVAL_S,
                functools.partial(
                    metrics.refresh_queue_metrics,
                    tickets,
                    agent_store,
                    default_capacity=settings.default_capacity,
                ),
                what="queue gauge refresh",
                at_start=True,
            ),
            every(settings.live.poll_s, live.feed, what="live ticket feed", at_start=True),
        ],
    )
    app.description = (
        "Every call needs `Authorization: Bearer <token>`: an agent's token for tickets and "
        'threads, the admin token for `/v1/admin`. Errors are `{"detail": "...", "code": "..."}`.'
    )
    app.include_router(
        api_router(
            agents=agents,
            admin_token=settings.admin_token,
            reading=reading,
            claims=Claims(tickets=tickets, agents=agent_store, config=config, freed=assigner.freed),
            holder=HolderActions(
                tickets=tickets, conversations=conversations, config=config, freed=assigner.freed
            ),
            staff=staff,
            assigner=assigner,
            actions=action_records,
            reports=Reports(tickets=tickets, claims=claim_log, feedback=feedback, ratings=ratings),
            notes=Notes(notes=note_store, tickets=tickets, max_length=settings.max_note_length),
            canned=CannedResponses(
                canned=canned_store,
                tickets=tickets,
                conversations=conversations,
                # A canned reply is sent as a reply: it has a reply's limit.
                max_length=settings.max_text_length,
            ),
            moving=MovingWork(
                tickets=tickets,
                agents=agent_store,
                departments=departments,
                conversations=conversations,
                config=config,
                max_note_length=settings.max_note_length,
                agents_may_take_over=settings.takeover_by_agents,
                freed=assigner.freed,
                placed=assigner.opened,
            ),
        )
    )
    app.include_router(live_router(live, agents))
    app.include_router(console_router(agents))
    return app
