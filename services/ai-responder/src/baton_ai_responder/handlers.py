"""The AI responder's handlers, one per consumed event."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import (
    ActionDecided,
    DraftApproved,
    DraftRejected,
    Event,
    HumanResponded,
    RouteDecided,
    TicketExpired,
    TicketOpened,
)

from .usecases import Responder, Summaries


def routed_to_ai(event: RouteDecided) -> bool:
    """The AI's share of the router's decisions; people's go to the queue."""
    return event.handler == "ai"


async def on_route_decided(event: RouteDecided, *, responder: Responder) -> Sequence[Event]:
    """A route to the AI (subscribed with ``wants=routed_to_ai``) starts a turn."""
    return await responder.route(event)


async def on_human_responded(event: HumanResponded, *, responder: Responder) -> Sequence[Event]:
    return await responder.answered(event)


async def on_draft_approved(event: DraftApproved, *, responder: Responder) -> Sequence[Event]:
    return await responder.approved(event)


async def on_draft_rejected(event: DraftRejected, *, responder: Responder) -> Sequence[Event]:
    return await responder.rejected(event)


async def on_action_decided(event: ActionDecided, *, responder: Responder) -> Sequence[Event]:
    return await responder.decided(event)


async def on_ticket_expired(event: TicketExpired, *, responder: Responder) -> Sequence[Event]:
    return await responder.expired(event)


async def on_ticket_opened(event: TicketOpened, *, summaries: Summaries) -> Sequence[Event]:
    return await summaries.opened(event)
