"""The router's one handler: ``message.received`` in, ``route.decided`` out."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import Event, MessageReceived

from .usecases import Router


async def on_message_received(event: MessageReceived, *, router: Router) -> Sequence[Event]:
    return await router.route(event)
