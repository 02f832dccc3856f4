"""Kafka handlers of the webhooks: one plain async function per consumed event. None waits
on a gateway: storing the delivery is all they do."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import Event, MessageDelta, MessageSent, ThreadAssigned

from .outbound import Outbound


async def on_message_sent(event: MessageSent, *, outbound: Outbound) -> Sequence[Event]:
    await outbound.take(event)
    return ()


async def on_thread_assigned(event: ThreadAssigned, *, outbound: Outbound) -> Sequence[Event]:
    await outbound.take(event)
    return ()


async def on_message_delta(event: MessageDelta, *, outbound: Outbound) -> Sequence[Event]:
    await outbound.take(event)
    return ()
