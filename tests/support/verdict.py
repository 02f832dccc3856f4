"""The check that each message of a load got exactly one outcome."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass

from baton_contracts import MessageSent, RouteDecided, ToolHumanRequested
from baton_testkit import Load

from .recorder import Recorder

HUMAN = "human"
"""``message.sent``'s provider for a person's reply."""

CHECKED: list[str] = []
"""One line per fault scenario, shown in the test session's summary."""


@dataclass
class Verdict:
    accepted: int
    sent: int
    outcomes: int
    lost: list[uuid.UUID]
    duplicates: list[uuid.UUID]
    redelivered: int
    out_of_order: list[str]

    def summary(self) -> str:
        return (
            f"accepted={self.accepted} sent={self.sent} outcomes={self.outcomes} "
            f"duplicates={len(self.duplicates)} lost={len(self.lost)} "
            f"redelivered_same_event={self.redelivered} out_of_order_threads={len(self.out_of_order)}"
        )


def drafts(recorder: Recorder) -> set[uuid.UUID]:
    """The AI's drafts held for a person's approval (by the ``tool.human_requested`` of
    each)."""
    return {
        seen.event.draft_message_id
        for seen in recorder.records
        if isinstance(seen.event, ToolHumanRequested)
        and seen.event.kind == "approval"
        and seen.event.draft_message_id is not None
    }


def judge(load: Load, recorder: Recorder) -> Verdict:
    """One outcome per accepted message: a reply, a request for a person, or a human route.
    A person's reply to a message that went to people is not a second outcome, nor is an
    approved draft sent after the request for its approval: both are judged with the human
    side (``tests/faults/people.py``). An approved draft takes its place in its thread's
    order like any reply."""
    wanted = {a.message_id: a for a in load.accepted}
    held = drafts(recorder)
    outcomes: dict[uuid.UUID, set[tuple[str, uuid.UUID]]] = defaultdict(set)
    sent_events: dict[uuid.UUID, int] = defaultdict(int)
    replies_in_order: dict[str, list[int]] = defaultdict(list)
    sent = 0
    for seen in recorder.records:
        event = seen.event
        if isinstance(event, MessageSent) and event.provider == HUMAN:
            continue  # a person's reply follows the request for one; checked on its own
        if isinstance(event, MessageSent) and event.in_reply_to in wanted:
            sent += 1
            sent_events[event.event_id] += 1
            if event.message_id not in held:
                outcomes[event.in_reply_to].add(("reply", event.message_id))
            if sent_events[event.event_id] == 1:
                # Order as a gateway shows it: it drops a record it has seen (same event
                # id), so only each event's first delivery takes a place in the thread.
                replies_in_order[event.thread_id].append(wanted[event.in_reply_to].index)
        elif isinstance(event, ToolHumanRequested) and event.message_id in wanted:
            outcomes[event.message_id].add(("person", event.request_id))
        elif (
            isinstance(event, RouteDecided)
            and event.handler == "human"
            and event.message_id in wanted
        ):
            outcomes[event.message_id].add(("human-route", event.message_id))
    out_of_order = [t for t, order in replies_in_order.items() if order != sorted(order)]
    return Verdict(
        accepted=len(wanted),
        sent=sent,
        outcomes=sum(1 for m in wanted if outcomes.get(m)),
        lost=[m for m in wanted if not outcomes.get(m)],
        duplicates=[m for m, found in outcomes.items() if len(found) > 1],
        redelivered=sum(n - 1 for n in sent_events.values() if n > 1),
        out_of_order=out_of_order,
    )


async def settle(load: Load, recorder: Recorder, *, timeout: float = 120.0) -> Verdict:
    """Wait until no accepted message lacks an outcome (or ``timeout``), then judge."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    verdict = judge(load, recorder)
    while verdict.lost and loop.time() < deadline:
        await asyncio.sleep(0.5)
        verdict = judge(load, recorder)
    await asyncio.sleep(2)  # anything duplicated late shows up now
    return judge(load, recorder)
