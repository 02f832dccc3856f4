"""The replies to a load, as a gateway sees them on ``message.sent``, with their timings."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from baton_contracts import MessageSent, topics

from .watch import Seen, follow_topics


@dataclass
class Observed:
    """What one stretch of load showed: when each user message was accepted and when its
    reply was made, appended and seen; and what the services stored in between (filled in
    afterwards by whoever reads their collections)."""

    accepted_at: dict[uuid.UUID, float] = field(default_factory=dict)
    sent_at: dict[uuid.UUID, float] = field(default_factory=dict)  # reply seen by the watcher
    replied_at: dict[uuid.UUID, float] = field(default_factory=dict)  # reply's occurred_at
    appended_at: dict[uuid.UUID, float] = field(default_factory=dict)  # its Kafka timestamp
    received_at: dict[uuid.UUID, float] = field(default_factory=dict)
    routed_at: dict[uuid.UUID, float] = field(default_factory=dict)
    reply_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # user msg -> reply
    replies: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)  # all of them
    sent_events: dict[uuid.UUID, int] = field(default_factory=dict)  # event id -> records

    def note(self, seen: Seen) -> None:
        """Take in one ``message.sent`` record."""
        event = seen.event
        if not isinstance(event, MessageSent) or event.in_reply_to is None:
            return
        asked = event.in_reply_to
        self.sent_at.setdefault(asked, seen.seen_at)
        self.replied_at.setdefault(asked, event.occurred_at.timestamp())
        self.appended_at.setdefault(asked, seen.appended_at)
        self.reply_of.setdefault(asked, event.message_id)
        self.replies.setdefault(asked, set()).add(event.message_id)
        self.sent_events[event.event_id] = self.sent_events.get(event.event_id, 0) + 1

    def unanswered(self) -> list[uuid.UUID]:
        return [m for m in self.accepted_at if m not in self.sent_at]

    async def wait_answered(self, patience: float = 60, within: float | None = None) -> None:
        """Wait until every accepted message has its reply, for as long as replies keep
        coming: only ``patience`` seconds without a new reply end the wait, or (if given)
        ``within`` seconds in all."""
        started = last_progress = time.time()
        last_count = -1
        while any(m not in self.sent_at for m in self.accepted_at):
            now = time.time()
            if len(self.sent_at) != last_count:
                last_count, last_progress = len(self.sent_at), now
            elif now - last_progress > patience:
                return
            if within is not None and now - started > within:
                return
            await asyncio.sleep(0.2)


@asynccontextmanager
async def watch_replies(bootstrap: str, prefix: str) -> AsyncIterator[Observed]:
    """A fresh :class:`Observed`, filled while the block runs by a watcher of ``message.sent``
    (under the topic ``prefix``) that sees everything sent once the block has begun.

    Only ``message.sent``: the hops before it are better read from what the services stored
    than from a watcher of every topic, which would wake for each event and take a share of
    the cores the pipeline runs on."""
    observed = Observed()
    async with follow_topics(
        bootstrap,
        [f"{prefix}{topics.MESSAGE_SENT}"],
        observed.note,
        from_start=False,
        group="replies",
    ):
        yield observed
