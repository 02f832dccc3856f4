"""Kafka handlers: one plain async function per consumed event. A refusal (e.g. an unknown
thread) is dead-lettered with its code by the runner."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import Event, RouteDecided, ToolHumanRequested

from .usecases import Intake


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
