"""Kafka handlers: one plain async function per consumed event. A refusal (e.g. an unknown
thread) is dead-lettered with its code by the runner."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import (
    ActionExecuted,
    Event,
    RouteDecided,
    ThreadRated,
    TicketSummarized,
    ToolHumanRequested,
)

from .usecases import ActionRecords, Intake, Ratings, Summaries


def routed_to_people(event: RouteDecided) -> bool:
    """The queue's share of the router's decisions; the AI's are not its business."""
    return event.handler == "human"


async def on_route_decided(event: RouteDecided, *, intake: Intake) -> Sequence[Event]:
    """A route to people (subscribed with ``wants=routed_to_people``) opens a ticket."""
    await intake.open_conversation(event)
    return ()


async def on_tool_human_requested(event: ToolHumanRequested, *, intake: Intake) -> Sequence[Event]:
    await intake.open_request(event)
    return ()


async def on_ticket_summarized(event: TicketSummarized, *, summaries: Summaries) -> Sequence[Event]:
    """The AI's summary of a ticket's conversation, kept with the ticket."""
    await summaries.keep(event)
    return ()


async def on_action_executed(event: ActionExecuted, *, records: ActionRecords) -> Sequence[Event]:
    """Keep the AI's tool call in the action audit (once per event id: no handled-events
    log)."""
    await records.executed(event)
    return ()


async def on_thread_rated(event: ThreadRated, *, ratings: Ratings) -> Sequence[Event]:
    """Keep the user's rating for the reports (once per event id: no handled-events log)."""
    await ratings.record(event)
    return ()
