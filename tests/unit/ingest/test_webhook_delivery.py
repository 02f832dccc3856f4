"""Webhook deliveries against in-memory stores and a scripted endpoint: stored once per
event, posted under a lease, retried, dead-lettered and redelivered, and no gateway held up
by another's endpoint."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton_contracts import MessageSent, ThreadAssigned, encode
from baton_conversations import Thread
from baton_ingest.registry import GatewayRevokedError, Gateways, UnknownGatewayError
from baton_ingest.webhooks import (
    Dispatcher,
    NoWebhookError,
    Outbound,
    PostFailedError,
    Webhooks,
    WebhookSettings,
    sign,
)
from tests.support.ingest_memory import MemoryGateways
from tests.support.webhooks_memory import MemoryDeliveries, MemoryWebhooks

START = datetime(2025, 1, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Endpoint:
    """Answers each URL from its script (statuses, or ``"hang"``: no answer until
    released); 200 once the script is used up. Remembers every request."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[int | str]] = defaultdict(list)
        self.requests: dict[str, list[tuple[bytes, dict[str, str]]]] = defaultdict(list)
        self.answered: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.release = asyncio.Event()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.requests[url].append((body, dict(headers)))
        answer = self.scripts[url].pop(0) if self.scripts[url] else 200
        if answer == "hang":
            await self.release.wait()
            raise PostFailedError("no answer within 10 s")
        if answer == "refused":
            raise PostFailedError("ConnectError: connection refused")
        assert isinstance(answer, int)
        self.answered[url].set()
        return answer


class World:
    def __init__(self, **settings: Any) -> None:
        self.clock = Clock()
        self.gateway_store = MemoryGateways()
        self.gateways = Gateways(self.gateway_store)
        self.webhooks = MemoryWebhooks()
        self.deliveries = MemoryDeliveries()
        self.threads: dict[str, Thread] = {}
        self.endpoint = Endpoint()
        self.settings = WebhookSettings(
            **{"backoff_initial_s": 1.0, "backoff_max_s": 10.0, "max_attempts": 3, **settings}
        )
        self.setup = Webhooks(
            gateways=self.gateways,
            webhooks=self.webhooks,
            deliveries=self.deliveries,
            allow_http=False,
            clock=self.clock,
        )
        self.dispatcher = self.new_dispatcher()
        self.outbound = Outbound(
            threads=self, webhooks=self.webhooks, deliveries=self.deliveries, clock=self.clock
        )

    def new_dispatcher(self) -> Dispatcher:
        return Dispatcher(
            deliveries=self.deliveries,
            webhooks=self.webhooks,
            gateways=self.gateways,
            poster=self.endpoint,
            settings=self.settings,
            clock=self.clock,
            rand=lambda: 1.0,
        )

    async def get_thread(self, thread_id: str) -> Thread | None:
        return self.threads.get(thread_id)

    async def gateway(self, name: str, *events: str) -> tuple[str, str]:
        """A gateway with a webhook at ``https://<name>.example/hook``; its id and secret."""
        issued = await self.gateways.create(name, ["*"])
        gateway_id = issued.gateway.gateway_id
        url = f"https://{name}.example/hook"
        made = await self.setup.set(gateway_id, url=url, events=events or ["message.sent"])
        assert made.secret is not None
        return gateway_id, made.secret

    def thread(self, gateway_id: str | None) -> str:
        thread_id = f"t-{uuid.uuid4().hex[:8]}"
        self.threads[thread_id] = Thread(
            thread_id=thread_id,
            user_id="u-1",
            channel="web",
            department=None,
            user_tier=None,
            owner="ai",
            assigned_agent=None,
            status="open",
            metadata={},
            created_at=START,
            updated_at=START,
            gateway_id=gateway_id,
        )
        return thread_id

    async def rounds(self) -> None:
        """Dispatch until nothing due is left to start, each try run to its verdict."""
        while await self.dispatcher.round():
            await self.dispatcher.settle()

    def later(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)


def sent(thread_id: str) -> MessageSent:
    return MessageSent(
        correlation_id=uuid.uuid4(),
        thread_id=thread_id,
        message_id=uuid.uuid4(),
        text="We open at 9 am.",
        agent_name="Baton",
        provider="openai",
    )


def assigned(thread_id: str) -> ThreadAssigned:
    return ThreadAssigned(
        correlation_id=uuid.uuid4(), thread_id=thread_id, owner="human", reason="rule"
    )


async def test_an_event_is_stored_once_for_its_threads_gateway_and_posted_signed() -> None:
    world = World()
    gateway_id, secret = await world.gateway("web")
    event = sent(world.thread(gateway_id))

    assert await world.outbound.take(event) is True
    assert await world.outbound.take(event) is False  # Kafka delivering it again
    await world.rounds()

    [(body, headers)] = world.endpoint.requests["https://web.example/hook"]
    assert body == encode(event)
    assert headers["Baton-Event-Id"] == str(event.event_id)
    timestamp = int(headers["Baton-Timestamp"])
    assert timestamp == int(START.timestamp())
    assert headers["Baton-Signature"] == sign(secret, timestamp, body)
    [delivery] = world.deliveries.deliveries.values()
    assert (delivery.status, delivery.attempts, delivery.body) == ("delivered", 1, b"")
    assert await world.outbound.take(event) is False  # remembered once delivered


async def test_only_the_events_a_webhook_asks_for_on_its_own_threads_are_stored() -> None:
    world = World()
    web, _ = await world.gateway("web")
    both, _ = await world.gateway("both", "message.sent", "thread.assigned")

    assert await world.outbound.take(assigned(world.thread(web))) is False
    assert await world.outbound.take(assigned(world.thread(both))) is True
    assert await world.outbound.take(sent(world.thread(None))) is False
    assert await world.outbound.take(sent("t-unknown")) is False
    no_hook = (await world.gateways.create("plain", ["*"])).gateway.gateway_id
    assert await world.outbound.take(sent(world.thread(no_hook))) is False
    assert len(world.deliveries.deliveries) == 1


async def test_a_failed_try_is_retried_after_the_backoff_then_delivered() -> None:
    world = World()
    gateway_id, _ = await world.gateway("flaky")
    url = "https://flaky.example/hook"
    world.endpoint.scripts[url] = [500, "refused"]
    await world.outbound.take(sent(world.thread(gateway_id)))

    await world.rounds()
    [delivery] = world.deliveries.deliveries.values()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    assert delivery.due_at == START + timedelta(seconds=1)

    world.later(1)
    await world.rounds()
    [delivery] = world.deliveries.deliveries.values()
    assert delivery.last_error == "ConnectError: connection refused"
    assert delivery.due_at == world.clock.now + timedelta(seconds=2)

    world.later(1)
    await world.rounds()
    assert len(world.endpoint.requests[url]) == 2  # not due yet
    world.later(1)
    await world.rounds()
    [delivery] = world.deliveries.deliveries.values()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


async def test_after_its_last_try_a_delivery_is_dead_until_redelivered() -> None:
    world = World(max_attempts=2)
    gateway_id, _ = await world.gateway("down")
    url = "https://down.example/hook"
    world.endpoint.scripts[url] = [503, 503]
    event = sent(world.thread(gateway_id))
    await world.outbound.take(event)

    await world.rounds()
    world.later(60)
    await world.rounds()
    [dead] = await world.setup.deliveries(gateway_id, status="dead", limit=10)
    assert (dead.event_id, dead.attempts, dead.last_error) == (event.event_id, 2, "HTTP 503")
    world.later(3600)
    await world.rounds()
    assert len(world.endpoint.requests[url]) == 2

    assert await world.setup.redeliver(gateway_id, event_ids=[uuid.uuid4()]) == 0
    assert await world.setup.redeliver(gateway_id) == 1
    await world.rounds()
    [delivery] = world.deliveries.deliveries.values()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert len(world.endpoint.requests[url]) == 3


async def test_a_hanging_endpoint_holds_only_its_own_slots() -> None:
    world = World(per_gateway_concurrency=2)
    slow, _ = await world.gateway("slow")
    fast, _ = await world.gateway("fast")
    world.endpoint.scripts["https://slow.example/hook"] = ["hang"] * 10
    for _ in range(10):
        await world.outbound.take(sent(world.thread(slow)))
    await world.outbound.take(sent(world.thread(fast)))

    started = await world.dispatcher.round()

    assert sorted(d.gateway_id for d in started) == sorted([slow, slow, fast])
    await asyncio.wait_for(world.endpoint.answered["https://fast.example/hook"].wait(), 5)
    assert await world.deliveries.find(fast, status="delivered", limit=10)
    assert await world.dispatcher.round() == []  # the slow gateway's slots are all taken
    slow_ones = await world.deliveries.find(slow, status="pending", limit=100)
    assert [d.attempts for d in slow_ones].count(1) == 2
    world.endpoint.release.set()
    await world.dispatcher.settle()


async def test_a_backlog_does_not_go_before_another_gateways_delivery() -> None:
    world = World(max_concurrency=2)
    busy, _ = await world.gateway("busy")
    quiet, _ = await world.gateway("quiet")
    for _ in range(20):
        await world.outbound.take(sent(world.thread(busy)))
    world.later(1)
    await world.outbound.take(sent(world.thread(quiet)))

    started = await world.dispatcher.round()

    assert {d.gateway_id for d in started} == {busy, quiet}


async def test_two_instances_never_take_the_same_delivery() -> None:
    world = World()
    gateway_id, _ = await world.gateway("web")
    for _ in range(6):
        await world.outbound.take(sent(world.thread(gateway_id)))
    other = world.new_dispatcher()

    taken = [*await world.dispatcher.round(), *await other.round()]
    await world.dispatcher.settle()
    await other.settle()

    assert len(taken) == 6
    assert len({d.delivery_id for d in taken}) == 6
    assert len(world.endpoint.requests["https://web.example/hook"]) == 6


async def test_a_try_whose_lease_ran_out_is_taken_again() -> None:
    world = World(timeout_s=5)
    gateway_id, _ = await world.gateway("web")
    await world.outbound.take(sent(world.thread(gateway_id)))
    crashed = world.new_dispatcher()
    [taken] = await crashed.round()
    await crashed.cancel()  # it stops before its try has a verdict

    assert await world.dispatcher.round() == []
    world.later(5 + 30)
    [again] = await world.dispatcher.round()
    await world.dispatcher.settle()

    assert again.delivery_id == taken.delivery_id
    assert world.deliveries.deliveries[taken.delivery_id].status == "delivered"


async def test_deliveries_of_a_removed_webhook_or_a_revoked_gateway_are_dropped() -> None:
    world = World()
    removed, _ = await world.gateway("removed")
    revoked, _ = await world.gateway("revoked")
    for gateway_id in (removed, revoked):
        await world.outbound.take(sent(world.thread(gateway_id)))
    await world.webhooks.remove(removed)  # as if removed while the event was being stored
    await world.gateways.revoke(revoked)

    await world.rounds()

    assert world.deliveries.deliveries == {}
    assert world.endpoint.requests == {}


async def test_a_webhook_is_made_with_a_secret_shown_once_and_changed_without_it() -> None:
    world = World()
    gateway_id = (await world.gateways.create("web", ["web"])).gateway.gateway_id
    setup = world.setup

    made = await setup.set(gateway_id, url="https://a.example/hook", events=["message.sent"])
    changed = await setup.set(gateway_id, url="https://b.example/hook", events=["thread.assigned"])
    rotated = await setup.rotate_secret(gateway_id)

    assert made.created
    assert made.secret
    assert not changed.created
    assert changed.secret is None
    assert changed.webhook.secret == made.secret
    assert (changed.webhook.url, changed.webhook.events) == (
        "https://b.example/hook",
        ("thread.assigned",),
    )
    assert rotated.secret
    assert rotated.secret != made.secret
    assert (await setup.get(gateway_id)).secret == rotated.secret
    assert made.secret not in repr(made.webhook)


async def test_removing_a_webhook_forgets_its_deliveries() -> None:
    world = World()
    gateway_id, _ = await world.gateway("web")
    await world.outbound.take(sent(world.thread(gateway_id)))

    await world.setup.remove(gateway_id)

    assert world.deliveries.deliveries == {}
    with pytest.raises(NoWebhookError):
        await world.setup.get(gateway_id)
    with pytest.raises(NoWebhookError):
        await world.setup.remove(gateway_id)


async def test_unknown_and_revoked_gateways_are_refused() -> None:
    world = World()
    url, events = "https://a.example/hook", ["message.sent"]
    with pytest.raises(UnknownGatewayError):
        await world.setup.set("gw-nope", url=url, events=events)
    gateway_id = (await world.gateways.create("web", ["web"])).gateway.gateway_id
    with pytest.raises(NoWebhookError):
        await world.setup.rotate_secret(gateway_id)
    await world.gateways.revoke(gateway_id)
    with pytest.raises(GatewayRevokedError):
        await world.setup.set(gateway_id, url=url, events=events)
