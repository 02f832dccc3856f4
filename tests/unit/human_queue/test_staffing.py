"""Roles, capacity, presence, assignment policies and failover on in-memory stores."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from baton_contracts import AgentStatusChanged, ThreadAssigned
from baton_human_queue.agents import Agents
from baton_human_queue.domain import Agent, AtCapacityError, WrongDepartmentError
from baton_human_queue.ports import AgentChanges
from baton_human_queue.staffing import AgentState, Slot, candidates, failover_due
from baton_human_queue.tickets import read_ticket

from .conftest import ALEX, BO, NOW, SAM, Queue

SUPER = Agent("agent-sup", "Sue", ("billing",), role="supervisor")


def state(agent: Agent, *, held: int = 0, minutes_ago: int | None = None) -> AgentState:
    return AgentState(
        agent=agent,
        active=True,
        status="online",
        idle_away=False,
        last_seen_at=NOW,
        status_at=NOW,
        slots=tuple(Slot(f"c{i}", f"t{i}", NOW) for i in range(held)),
        last_assigned_at=NOW - timedelta(minutes=minutes_ago) if minutes_ago else None,
    )


def test_policies_order_the_online_agents_with_room() -> None:
    a, b, c = (Agent(f"a{i}", f"A{i}", ("billing",)) for i in range(3))
    states = [
        state(a, held=1, minutes_ago=1),
        state(b, held=3, minutes_ago=9),
        state(c, held=5),
        dataclasses.replace(state(Agent("a9", "Off", ("billing",))), status="away"),
    ]
    least = candidates(states, "billing", "least_busy", default_capacity=5)
    robin = candidates(states, "billing", "round_robin", default_capacity=5)
    # c is full, the away agent is out; least_busy prefers fewer held, round_robin older.
    assert [s.agent.agent_id for s in least] == ["a0", "a1"]
    assert [s.agent.agent_id for s in robin] == ["a1", "a0"]
    assert candidates(states, "shipping", "least_busy", default_capacity=5) == []


async def test_a_claim_beyond_capacity_is_refused_until_one_is_given_back(queue: Queue) -> None:
    queue.enrol(dataclasses.replace(ALEX, capacity=2))
    tickets = [await queue.conversation() for _ in range(3)]
    for ticket in tickets[:2]:
        await queue.claims.claim(ALEX, ticket.ticket_id)

    with pytest.raises(AtCapacityError, match="holds 2 ticket"):
        await queue.claims.claim(ALEX, tickets[2].ticket_id)
    assert (await queue.tickets.get(tickets[2].ticket_id)).status == "pending"  # type: ignore[union-attr]

    await queue.claims.release(ALEX, tickets[0].ticket_id)
    assert (await queue.claims.claim(ALEX, tickets[2].ticket_id)).status == "assigned"
    held = {s.ticket_id for s in queue.agents.by_id[ALEX.agent_id].slots}
    assert held == {tickets[1].ticket_id, tickets[2].ticket_id}


async def test_concurrent_claims_never_exceed_capacity(queue: Queue) -> None:
    queue.enrol(dataclasses.replace(ALEX, capacity=3))
    tickets = [await queue.conversation() for _ in range(10)]

    outcomes = await asyncio.gather(
        *(queue.claims.claim(ALEX, t.ticket_id) for t in tickets), return_exceptions=True
    )

    assert sum(not isinstance(o, Exception) for o in outcomes) == 3
    assert all(isinstance(o, AtCapacityError) for o in outcomes if isinstance(o, Exception))
    assert len(queue.agents.by_id[ALEX.agent_id].slots) == 3


async def test_resolving_gives_the_slot_back(queue: Queue) -> None:
    queue.enrol(dataclasses.replace(ALEX, capacity=1))
    first = await queue.claimed()
    await queue.holder.resolve(ALEX, first.ticket_id, "ai")
    assert queue.agents.by_id[ALEX.agent_id].slots == ()


async def test_a_slot_whose_claim_lost_is_freed_by_the_sweep_after_the_grace(queue: Queue) -> None:
    ticket = await queue.conversation()
    # What a claim that stopped between its slot and the ticket leaves behind.
    await queue.agents.take_slot(
        ALEX.agent_id, Slot("lost", ticket.ticket_id, NOW), seen_capacity=None, limit=5
    )
    await queue.staff.stale_slots()
    assert len(queue.agents.by_id[ALEX.agent_id].slots) == 1  # within the grace: may be live

    queue.clock.advance(seconds=6)
    await queue.staff.stale_slots()
    assert queue.agents.by_id[ALEX.agent_id].slots == ()


async def test_a_supervisor_sees_every_department(queue: Queue) -> None:
    queue.enrol(SUPER)
    shipping = await queue.conversation("shipping")
    found = await queue.reading.search(SUPER, statuses=("pending",))
    assert shipping.ticket_id in {t.ticket_id for t in found}
    assert (await queue.claims.claim(SUPER, shipping.ticket_id)).status == "assigned"
    with pytest.raises(WrongDepartmentError):
        await queue.claims.claim(ALEX, (await queue.conversation("shipping")).ticket_id)


async def test_presence_changes_are_announced_and_silence_makes_an_agent_away(
    queue: Queue,
) -> None:
    online = await queue.staff.set_status(ALEX, "online")
    assert online.status == "online"
    queue.clock.advance(seconds=301)
    await queue.staff.idle_agents()
    away = queue.agents.by_id[ALEX.agent_id]
    assert (away.status, away.idle_away) == ("away", True)

    await queue.staff.seen(away)  # a request: back online

    assert queue.agents.by_id[ALEX.agent_id].status == "online"
    events = queue.published(AgentStatusChanged)
    assert [(e.previous_status, e.status, e.reason) for e in events] == [
        ("offline", "online", "set"),
        ("online", "away", "idle"),
        ("away", "online", "active"),
    ]
    assert {e.thread_id for e in events} == {f"agent:{ALEX.agent_id}"}


async def test_an_agent_who_chose_away_stays_away_on_a_request(queue: Queue) -> None:
    away = await queue.staff.set_status(ALEX, "away")
    await queue.staff.seen(away)
    assert queue.agents.by_id[ALEX.agent_id].status == "away"


async def test_deactivating_stops_the_token_and_returns_the_tickets(queue: Queue) -> None:
    agents = Agents(queue.agents)
    created = await agents.create("Dee", ["billing"])
    dee = created.agent
    ticket = await queue.conversation()
    await queue.claims.claim(dee, ticket.ticket_id)

    await queue.staff.change(dee.agent_id, AgentChanges(active=False))

    assert await agents.authenticate(created.token) is None
    back = await queue.tickets.get(ticket.ticket_id)
    assert back is not None
    assert (back.status, back.holder) == ("pending", None)
    assert queue.agents.by_id[dee.agent_id].slots == ()


async def test_a_rotated_token_replaces_the_old_one(queue: Queue) -> None:
    agents = Agents(queue.agents)
    created = await agents.create("Dee", ["billing"])
    token = await agents.rotate_token(created.agent.agent_id)
    assert token is not None
    assert await agents.authenticate(created.token) is None
    assert await agents.authenticate(token) == created.agent


async def test_least_busy_hands_a_new_ticket_to_the_online_agent_holding_fewest(
    queue: Queue,
) -> None:
    await queue.departments.set_policy("billing", "least_busy", now=NOW)
    await queue.staff.set_status(ALEX, "online")
    await queue.staff.set_status(SAM, "online")
    first = await queue.conversation()
    second = await queue.conversation()

    holders = {
        (await queue.tickets.get(t.ticket_id)).holder.agent_id  # type: ignore[union-attr]
        for t in (first, second)
    }
    assert holders == {ALEX.agent_id, SAM.agent_id}
    assigned = queue.published(ThreadAssigned)
    assert {e.agent_id for e in assigned} >= holders


async def test_a_ticket_waits_for_room_and_goes_to_whoever_frees_up_or_comes_online(
    queue: Queue,
) -> None:
    queue.enrol(dataclasses.replace(ALEX, capacity=1))
    await queue.departments.set_policy("billing", "round_robin", now=NOW)
    await queue.staff.set_status(ALEX, "online")
    first = await queue.conversation()
    waiting = await queue.conversation()
    assert (await queue.tickets.get(waiting.ticket_id)).status == "pending"  # type: ignore[union-attr]

    await queue.holder.resolve(ALEX, first.ticket_id, "none")  # frees a slot
    taken = await queue.tickets.get(waiting.ticket_id)
    assert taken is not None
    assert taken.holder is not None
    assert taken.holder.agent_id == ALEX.agent_id

    third = await queue.conversation()
    await queue.staff.set_status(SAM, "online")  # comes online: gets the waiting one
    assert (await queue.tickets.get(third.ticket_id)).holder.agent_id == SAM.agent_id  # type: ignore[union-attr]


async def test_manual_departments_are_not_assigned(queue: Queue) -> None:
    await queue.staff.set_status(ALEX, "online")
    ticket = await queue.conversation()
    assert (await queue.tickets.get(ticket.ticket_id)).status == "pending"  # type: ignore[union-attr]


async def test_failover_moves_an_untouched_ticket_from_an_away_agent(queue: Queue) -> None:
    await queue.departments.set_policy("billing", "least_busy", now=NOW)
    await queue.staff.set_status(ALEX, "online")
    ticket = await queue.conversation()
    await queue.staff.set_status(ALEX, "away")
    await queue.staff.set_status(SAM, "online")
    held = await queue.tickets.get(ticket.ticket_id)
    assert held is not None
    assert held.holder is not None
    assert held.holder.agent_id == ALEX.agent_id

    queue.clock.advance(seconds=60)
    await queue.assigner()
    assert (await queue.tickets.get(ticket.ticket_id)).holder.agent_id == ALEX.agent_id  # type: ignore[union-attr]

    queue.clock.advance(seconds=61)
    await queue.assigner()
    moved = await queue.tickets.get(ticket.ticket_id)
    assert moved is not None
    assert moved.holder is not None
    assert moved.holder.agent_id == SAM.agent_id
    assert queue.agents.by_id[ALEX.agent_id].slots == ()
    assert [s.ticket_id for s in queue.agents.by_id[SAM.agent_id].slots] == [ticket.ticket_id]


async def test_failover_with_nobody_online_puts_the_ticket_back_in_the_queue(
    queue: Queue,
) -> None:
    await queue.departments.set_policy("billing", "least_busy", now=NOW)
    await queue.staff.set_status(ALEX, "online")
    ticket = await queue.conversation()
    await queue.staff.set_status(ALEX, "offline")
    queue.clock.advance(seconds=121)

    await queue.assigner()

    back = await queue.tickets.get(ticket.ticket_id)
    assert back is not None
    assert (back.status, back.holder) == ("pending", None)


def test_failover_is_due_only_for_an_untouched_ticket_of_a_holder_not_online() -> None:
    ticket = read_ticket(
        {
            "_id": "t1",
            "kind": "question",
            "status": "assigned",
            "priority": 0,
            "thread_id": "th",
            "user_message_id": "00000000-0000-0000-0000-000000000001",
            "reason": "r",
            "source_event_id": "00000000-0000-0000-0000-000000000002",
            "correlation_id": "00000000-0000-0000-0000-000000000003",
            "holder": {"agent_id": BO.agent_id, "name": "Bo"},
            "claim_id": "c",
            # touched 10 minutes ago (a 600 s lease from then)
            "lease_expires_at": NOW,
            "sla_due_at": NOW,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )
    online = state(BO)
    away = dataclasses.replace(online, status="away")
    assert not failover_due(ticket, online, NOW, lease_s=600, after_s=60)
    assert failover_due(ticket, away, NOW, lease_s=600, after_s=60)
    assert failover_due(ticket, None, NOW, lease_s=600, after_s=60)
    assert not failover_due(ticket, away, NOW, lease_s=600, after_s=601)
