"""Kafka handlers: one plain async function per consumed event."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import Event, RouteDecided, ToolHumanRequested
from baton_runtime.consumer import Rejected
from baton_runtime.history import UnknownThreadError

from .service import Queue


def routed_to_people(event: RouteDecided) -> bool:
    """The queue's share of the router's decisions; the AI's are not its business."""
    return event.handler == "human"


async def on_route_decided(event: RouteDecided, *, queue: Queue) -> Sequence[Event]:
    if not routed_to_people(event):
        return ()
    try:
        await queue.open_conversation(event)
    except UnknownThreadError as exc:
        raise Rejected(exc.message, code=exc.code) from exc
    return ()


async def on_tool_human_requested(event: ToolHumanRequested, *, queue: Queue) -> Sequence[Event]:
    try:
        await queue.open_request(event)
    except UnknownThreadError as exc:
        raise Rejected(exc.message, code=exc.code) from exc
    return ()
