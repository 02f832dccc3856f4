"""`make bench`: Baton's throughput, latency, claims and memory against this machine's limits.

Everything runs on one machine in one run, on a local stack of its own (`.stack/bench`),
whose servers start from empty data each time:

1. Baseline B: a raw aiokafka consume -> produce relay with the services' producer
   settings (acks=all, not idempotent) and the same message size.
2. Pipeline throughput with the scripted model at zero latency: user messages per second
   from HTTP submission to `message.sent`, sustained; and its ratio to B. In each phase it
   counts the accepted messages without a reply (lost), with two different replies
   (duplicated), and `message.sent` records seen more than once (repeated events).
3. End-to-end latency at half that rate (or at `--latency-rate`): p50 / p95 / p99 from
   ingest's accept to `message.sent`, also without each reply's model call (as the
   ai-responder timed it and stored it with the reply), and the latency added by each hop
   (from what the services stored: the user message's `created_at`, the router's saved
   `route.decided`; then the reply's `occurred_at`, its Kafka timestamp, and when the
   watcher saw it). An unmeasured warm-up (`--warmup`) comes first, and another at that rate
   (`--half-warmup`) before it is measured. Then the same at lower rates (`--curve`, as
   fractions of the sustained rate, each after `--curve-warmup`): the highest rate up to
   which the p99 without the model call stays within the 50 ms target.
4. Claims per second with 10 and 50 concurrent agents on the human-queue API, against a raw
   `find_one_and_update` loop on the same server, with the number of double claims.
5. Peak memory (VmHWM) of each service process.
6. Kafka alone at the latency phase's rate, with the services stopped: the pipeline's three
   hops as bare aiokafka relays (a producer, two relay processes, a sink) with the services'
   producer settings. Its latency and CPU are the floor under the pipeline's: what the
   broker and the Kafka client cost on this machine before any MongoDB command or handler.

With the throughput and each latency phase it records the CPU time each process (the
services, Kafka, the MongoDB server, and the bench's own: the load and the watcher) used and
the MongoDB commands each service sent during that phase. `--profile` also samples every
service and the bench with py-spy during them and writes the collapsed stacks to
`bench-results/profiles/<name>.txt` (throughput) and `bench-results/profiles/<phase>/<name>.txt`
(`half-load`, `at-0.4`, ...; flamegraph input), with the functions that were on the CPU most
printed at the end.

Results go to `bench-results/bench.json` and `bench-results/bench.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient, ReturnDocument

ROOT = Path(__file__).resolve().parents[1]

from baton_contracts import (  # noqa: E402
    MessageReceived,
    MessageSent,
    RouteDecided,
    decode,
    topics,
)
from baton_ingest.domain import received_event_id  # noqa: E402
from baton_router.app import SERVICE as ROUTER  # noqa: E402
from baton_runtime.kafka import PRODUCER_SETTINGS  # noqa: E402
from baton_runtime.mongo import find_by_ids  # noqa: E402
from baton_runtime.outputs import HandledEvents  # noqa: E402
from baton_testkit import LocalStack, System, new_namespace  # noqa: E402

OUT = ROOT / "bench-results"
BENCH_STACK_PORTS = (19292, 19293, 17317)
# The load generator's HTTP client: aiohttp rather than httpx, whose per-request overhead
# took a noticeable share of the two cores the pipeline itself runs on.
TIMEOUT = aiohttp.ClientTimeout(total=30)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def percentiles_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of ``values`` (seconds), in milliseconds."""
    return {f"p{q}": percentile(values, q) * 1000 for q in (50, 95, 99)}


# -- 1. baseline ---------------------------------------------------------------------------


def services_producer(bootstrap: str) -> AIOKafkaProducer:
    """A producer that writes as the services' do (:data:`PRODUCER_SETTINGS`), each record
    sent at once."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, **PRODUCER_SETTINGS)


async def baseline_relay(bootstrap: str, *, messages: int, size: int) -> dict[str, float]:
    """Messages per second through a plain consume -> produce relay."""
    tag = uuid.uuid4().hex[:8]
    source, target = f"bench-{tag}-in", f"bench-{tag}-out"
    producer = services_producer(bootstrap)
    relay_in = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"relay-{tag}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    sink = AIOKafkaConsumer(
        target, bootstrap_servers=bootstrap, group_id=f"sink-{tag}", auto_offset_reset="earliest"
    )
    await producer.start()
    await relay_in.start()
    await sink.start()
    payload = b"x" * size
    received = 0
    done = asyncio.Event()

    async def relay() -> None:
        async for record in relay_in:
            await producer.send_and_wait(target, record.value, key=record.key)
            await relay_in.commit()

    async def drain() -> None:
        nonlocal received
        async for _ in sink:
            received += 1
            if received >= messages:
                done.set()
                return

    # Warm up: the relay's group must be assigned before timing starts.
    await producer.send_and_wait(source, payload, key=b"warm")
    relay_task = asyncio.create_task(relay())
    drain_task = asyncio.create_task(drain())
    while received < 1:
        await asyncio.sleep(0.05)
    received = 0
    started = time.perf_counter()
    for i in range(messages):
        await producer.send(source, payload, key=f"k{i % 64}".encode())
    await producer.flush()
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - started
    relay_task.cancel()
    drain_task.cancel()
    await asyncio.gather(relay_task, drain_task, return_exceptions=True)
    for client in (relay_in, sink, producer):
        await client.stop()
    return {"messages": messages, "seconds": elapsed, "per_second": messages / elapsed}


# -- 2 and 3. pipeline ---------------------------------------------------------------------


@dataclass
class Observed:
    accepted_at: dict[uuid.UUID, float] = field(default_factory=dict)
    sent_at: dict[uuid.UUID, float] = field(default_factory=dict)
    replied_at: dict[uuid.UUID, float] = field(default_factory=dict)  # reply's occurred_at
    appended_at: dict[uuid.UUID, float] = field(default_factory=dict)  # its Kafka timestamp
    received_at: dict[uuid.UUID, float] = field(default_factory=dict)
    routed_at: dict[uuid.UUID, float] = field(default_factory=dict)
    reply_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # user msg -> reply
    replies: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)  # all of them
    sent_events: dict[uuid.UUID, int] = field(default_factory=dict)  # event id -> records


async def watch(bootstrap: str, prefix: str, observed: Observed, stop: asyncio.Event) -> None:
    """Follow ``message.sent`` as a gateway would. The hops before it come from what the
    services stored (:func:`stored_times`): a watcher of every topic woke for each event and
    took a share of the cores the pipeline runs on."""
    consumer = AIOKafkaConsumer(
        f"{prefix}{topics.MESSAGE_SENT}",
        bootstrap_servers=bootstrap,
        group_id=f"bench-watch-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for record in records:
                    event = decode(record.value)
                    at = event.occurred_at.timestamp()
                    if isinstance(event, MessageSent) and event.in_reply_to:
                        # Seen by a gateway-like consumer: the moment the user could see it.
                        observed.sent_at.setdefault(event.in_reply_to, now)
                        observed.replied_at.setdefault(event.in_reply_to, at)
                        observed.appended_at.setdefault(event.in_reply_to, record.timestamp / 1000)
                        observed.reply_of.setdefault(event.in_reply_to, event.message_id)
                        observed.replies.setdefault(event.in_reply_to, set()).add(event.message_id)
                        seen = observed.sent_events.get(event.event_id, 0)
                        observed.sent_events[event.event_id] = seen + 1
    finally:
        await consumer.stop()


@asynccontextmanager
async def watching(bootstrap: str, prefix: str) -> AsyncIterator[Observed]:
    """What the pipeline's topics show while the body runs: a fresh :class:`Observed`,
    filled by a watcher that starts 2 s before the body (its group is assigned by then)
    and stops after it."""
    observed, stop = Observed(), asyncio.Event()
    watcher = asyncio.create_task(watch(bootstrap, prefix, observed, stop))
    await asyncio.sleep(2)
    try:
        yield observed
    finally:
        stop.set()
        await watcher


async def new_threads(client: aiohttp.ClientSession, count: int) -> list[str]:
    threads = []
    for _ in range(count):
        async with client.post(
            "/v1/threads", json={"user_id": "bench", "channel": "web"}
        ) as response:
            response.raise_for_status()
            threads.append((await response.json())["thread_id"])
    return threads


async def drive(
    client: aiohttp.ClientSession,
    threads: list[str],
    observed: Observed,
    *,
    seconds: float,
    rate: float | None,
) -> None:
    """Post FAQ questions for ``seconds``, as fast as each thread's turn allows (rate None)
    or open-loop, then wait until the accepted ones have their replies (:func:`wait_sent`)."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def post(thread_id: str) -> None:
        started = time.time()
        async with client.post(
            f"/v1/threads/{thread_id}/messages", json={"text": "What are your opening hours?"}
        ) as response:
            if response.status == 202:
                accepted = await response.json()
                observed.accepted_at[uuid.UUID(accepted["message_id"])] = started

    if rate is None:

        async def closed(thread_id: str) -> None:
            while loop.time() < stop_at:
                await post(thread_id)
                await asyncio.sleep(0)

        await asyncio.gather(*(closed(t) for t in threads))
    else:
        await open_loop(rate, seconds, lambda i: post(threads[i % len(threads)]))
    await wait_sent(observed)


async def open_loop(
    rate: float, seconds: float, start: Callable[[int], Coroutine[Any, Any, None]]
) -> None:
    """Start ``start(0)``, ``start(1)``, ... at ``rate`` per second for ``seconds``, each on
    its own task whether or not the earlier ones have finished; then wait for them all."""
    loop = asyncio.get_running_loop()
    tasks = []
    index, next_at = 0, loop.time()
    stop_at = next_at + seconds
    while loop.time() < stop_at:
        tasks.append(asyncio.create_task(start(index)))
        index += 1
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    await asyncio.gather(*tasks)


async def warm_up(
    client: aiohttp.ClientSession,
    threads: list[str],
    bootstrap: str,
    prefix: str,
    *,
    seconds: float,
    rate: float | None,
) -> None:
    """Unmeasured load at ``rate`` (None: as fast as the pipeline goes) until all is sent."""
    async with watching(bootstrap, prefix) as observed:
        await drive(client, threads, observed, seconds=seconds, rate=rate)


async def wait_sent(observed: Observed, patience: float = 60) -> None:
    """Wait until every accepted message has its reply, for as long as replies keep coming:
    only ``patience`` seconds without a new reply end the wait (and count the rest as lost)."""
    last_count, last_progress = -1, time.time()
    while any(m not in observed.sent_at for m in observed.accepted_at):
        if len(observed.sent_at) != last_count:
            last_count, last_progress = len(observed.sent_at), time.time()
        elif time.time() - last_progress > patience:
            return
        await asyncio.sleep(0.2)


async def by_ids(
    mongo: AsyncMongoClient[dict[str, Any]], database: str, collection: str, ids: Sequence[str]
) -> AsyncIterator[dict[str, Any]]:
    """The documents of ``collection`` with these ids that exist, a few hundred per query."""
    for start in range(0, len(ids), 200):
        for doc in await find_by_ids(mongo[database][collection], ids[start : start + 200]):
            if doc is not None:
                yield doc


async def stored_times(
    mongo: AsyncMongoClient[dict[str, Any]], database: str, observed: Observed
) -> None:
    """Fill in when ingest took each accepted message (its ``created_at``, the moment of its
    ``message.received`` too) and when the router decided its route (the ``route.decided``
    the router saved in its handled-events log)."""
    asked = [str(m) for m in observed.accepted_at]
    async for doc in by_ids(mongo, database, "messages", asked):
        observed.received_at[uuid.UUID(doc["_id"])] = doc["created_at"].timestamp()
    received = {received_event_id(m): m for m in observed.accepted_at}
    routes = await HandledEvents(mongo[database], service=ROUTER).get_many(list(received))
    for event_id, handled in routes.items():
        for event in handled.events:
            if isinstance(event, RouteDecided):
                observed.routed_at[received[event_id]] = event.occurred_at.timestamp()


async def model_seconds(
    mongo: AsyncMongoClient[dict[str, Any]], database: str, observed: Observed
) -> dict[uuid.UUID, float]:
    """User message -> how long the model call behind its reply took, as the ai-responder
    measured it around the SDK call and stored it with the reply (``metadata.latency_ms``)."""
    replies = {str(reply): asked for asked, reply in observed.reply_of.items()}
    found: dict[uuid.UUID, float] = {}
    async for doc in by_ids(mongo, database, "messages", list(replies)):
        latency_ms = (doc.get("metadata") or {}).get("latency_ms")
        if latency_ms is not None:
            found[replies[doc["_id"]]] = latency_ms / 1000
    return found


def without_model(observed: Observed, model: dict[uuid.UUID, float]) -> dict[str, float]:
    """End-to-end latency percentiles with each reply's model call taken out."""
    latencies = [
        observed.sent_at[m] - observed.accepted_at[m] - model[m]
        for m in observed.accepted_at
        if m in observed.sent_at and m in model
    ]
    return {
        **percentiles_ms(latencies),
        "replies": len(latencies),
        "model_call_p50": percentile(list(model.values()), 50) * 1000,
    }


LATENCY_TARGET_MS = 50.0
"""The end-to-end p99, model time excluded, that the pipeline is to keep at half load."""


def latency_by_rate(points: Sequence[dict[str, Any]], sustained: float) -> dict[str, Any]:
    """The latency phases' figures by rate, lowest first, and the highest rate up to which
    every measured rate kept the p99 without the model call within :data:`LATENCY_TARGET_MS`
    (None when the lowest did not)."""
    rows = sorted(
        (
            {
                "rate_per_second": point["rate_per_second"],
                "fraction_of_sustained": point["rate_per_second"] / sustained,
                "latency_without_model_ms": {
                    q: point["latency_without_model_ms"][q] for q in ("p50", "p95", "p99")
                },
                "cpu_cores": round(sum(point["cpu_share_of_one_core"].values()), 2),
                "cpu_share_of_one_core": point["cpu_share_of_one_core"],
                "mongo_commands_per_message": point["mongo_commands_per_message"]["total"],
                "lost": point["lost"],
                "duplicated": point["duplicated"],
            }
            for point in points
        ),
        key=lambda row: row["rate_per_second"],
    )
    holds: float | None = None
    for row in rows:
        # A phase without replies has no percentiles (NaN): that is no pass.
        if not row["latency_without_model_ms"]["p99"] <= LATENCY_TARGET_MS:
            break
        holds = row["rate_per_second"]
    return {
        "target_p99_ms": LATENCY_TARGET_MS,
        "holds_up_to_per_second": holds,
        "holds_up_to_fraction_of_sustained": None if holds is None else holds / sustained,
        "rates": rows,
    }


def pipeline_figures(observed: Observed) -> dict[str, Any]:
    done = [m for m in observed.accepted_at if m in observed.sent_at]
    latencies = [observed.sent_at[m] - observed.accepted_at[m] for m in done]
    # Sustained rate: replies over the span from the first accept to the last reply, so
    # the backlog built while submitting counts against the pipeline, not for it.
    span = (
        max(observed.sent_at[m] for m in done) - min(observed.accepted_at[m] for m in done)
        if done
        else 1.0
    )
    ingest = [
        observed.received_at[m] - observed.accepted_at[m] for m in done if m in observed.received_at
    ]
    router = [
        observed.routed_at[m] - observed.received_at[m]
        for m in done
        if m in observed.routed_at and m in observed.received_at
    ]
    ai = [observed.sent_at[m] - observed.routed_at[m] for m in done if m in observed.routed_at]
    reply = [
        observed.replied_at[m] - observed.routed_at[m] for m in done if m in observed.routed_at
    ]
    publish = [observed.appended_at[m] - observed.replied_at[m] for m in done]
    seen = [observed.sent_at[m] - observed.appended_at[m] for m in done]
    server = [
        observed.appended_at[m] - observed.received_at[m] for m in done if m in observed.received_at
    ]
    return {
        "accepted": len(observed.accepted_at),
        "sent": len(done),
        "lost": len(observed.accepted_at) - len(done),
        # A second, different reply to one message; and the same message.sent event seen
        # more than once (a gateway drops such a repeat by its event id).
        "duplicated": sum(1 for m in done if len(observed.replies.get(m, ())) > 1),
        "repeated_events": sum(n - 1 for n in observed.sent_events.values()),
        "per_second": len(done) / max(1e-9, span),
        "latency_ms": percentiles_ms(latencies),
        # The latency each hop adds, from the events' own timestamps.
        "hop_ms": {
            hop: percentiles_ms(values)
            for hop, values in (
                ("ingest accept -> message.received", ingest),
                ("message.received -> route.decided", router),
                ("route.decided -> message.sent (seen)", ai),
                ("route.decided -> reply made", reply),
                ("reply made -> message.sent appended", publish),
                ("message.sent appended -> seen", seen),
                ("message.received -> message.sent appended", server),
            )
        },
        "latencies_ms": [x * 1000 for x in latencies],
    }


# -- 6. Kafka alone at the latency rate (run last, with the services stopped) --------------


async def relay(bootstrap: str, source: str, target: str) -> None:
    """Forward every record of ``source`` to ``target``, as a service hop does with Kafka
    alone: a batch at a time, produced with the services' settings, its acks awaited before
    the next poll, offsets committed now and then."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"floor-{source}",
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        auto_commit_interval_ms=200,
        fetch_max_wait_ms=500,
    )
    producer = services_producer(bootstrap)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=100)
            sent = [
                await producer.send(target, record.value, key=record.key)
                for records in batch.values()
                for record in records
            ]
            await asyncio.gather(*sent)
    finally:
        await consumer.stop()
        await producer.stop()


def relay_process(bootstrap: str, source: str, target: str) -> None:
    """A relay in a process of its own, as each service is."""
    uvloop.run(relay(bootstrap, source, target))


async def kafka_floor(
    bootstrap: str,
    *,
    rate: float,
    seconds: float,
    size: int,
    keys: int,
    servers: dict[str, int],
    warmup: float = 5.0,
) -> dict[str, Any]:
    """What the pipeline's three Kafka hops cost alone at ``rate``: records produced
    open-loop (as ingest publishes each accepted message), relayed by two processes that do
    nothing else (router, ai-responder) and consumed by a sink (the watcher). Latency from
    each send to the sink, and the CPU of the relays, ``servers`` and this process."""
    tag = uuid.uuid4().hex[:8]
    first, second, third = (f"bench-floor-{tag}-{hop}" for hop in (1, 2, 3))
    spawn = multiprocessing.get_context("spawn")
    relays = [
        spawn.Process(target=relay_process, args=(bootstrap, source, target), daemon=True)
        for source, target in ((first, second), (second, third))
    ]
    for process in relays:
        process.start()
    producer = services_producer(bootstrap)
    sink = AIOKafkaConsumer(
        third, bootstrap_servers=bootstrap, group_id=f"sink-{tag}", auto_offset_reset="latest"
    )
    await producer.start()
    await sink.start()
    sent_at: dict[bytes, float] = {}
    seen_at: dict[bytes, float] = {}

    async def drain() -> None:
        async for record in sink:
            seen_at.setdefault(record.value[:32], time.time())

    async def send(index: int, record_id: bytes) -> None:
        sent_at[record_id] = time.time()
        await producer.send_and_wait(
            first, record_id.ljust(size, b"x"), key=f"k{index % keys}".encode()
        )

    async def paced(duration: float) -> None:
        """Send at ``rate`` for ``duration`` seconds, then wait for the records to arrive."""
        await open_loop(rate, duration, lambda i: send(i + 1, uuid.uuid4().hex.encode()))
        deadline = time.time() + 30
        while not sent_at.keys() <= seen_at.keys() and time.time() < deadline:
            await asyncio.sleep(0.05)

    drain_task = asyncio.create_task(drain())
    try:
        # Until a record makes it through, the relays' groups are not assigned yet.
        deadline = time.time() + 60
        while not seen_at:
            if time.time() > deadline:
                raise RuntimeError("no record made it through the Kafka-only relays in 60 s")
            await send(0, uuid.uuid4().hex.encode())
            await asyncio.sleep(0.5)
        # Unmeasured: the first records on each partition, the relays' first fetches of it.
        await paced(warmup)
        sent_at.clear()
        pids = {f"relay {n}": process.pid for n, process in enumerate(relays, 1) if process.pid}
        with cpu_use({**pids, **servers, "bench": os.getpid()}) as cpu:
            await paced(seconds)
        latencies = [seen_at[r] - at for r, at in sent_at.items() if r in seen_at]
        return {
            "rate_per_second": rate,
            "sent": len(sent_at),
            "arrived": len(latencies),
            "latency_ms": percentiles_ms(latencies),
            "cpu_share_of_one_core": cpu,
        }
    finally:
        drain_task.cancel()
        await asyncio.gather(drain_task, return_exceptions=True)
        await sink.stop()
        await producer.stop()
        for process in relays:
            process.terminate()
            process.join(10)


# -- 4. claims -----------------------------------------------------------------------------


async def claims(
    system: System,
    mongo: AsyncMongoClient[dict[str, Any]],
    database: str,
    agents: int,
    tickets: int,
) -> dict[str, Any]:
    queue = system.programs["human-queue"].url
    admin = {"Authorization": f"Bearer {system.admin_token}"}
    async with aiohttp.ClientSession(base_url=queue, timeout=TIMEOUT) as client:
        tokens = []
        for i in range(agents):
            async with client.post(
                "/v1/admin/agents",
                json={"name": f"Agent {i}", "departments": ["bench"]},
                headers=admin,
            ) as response:
                response.raise_for_status()
                tokens.append((await response.json())["token"])
        ids = await seed_tickets(mongo[database]["tickets"], tickets)
        wins: dict[str, int] = {}

        async def agent(token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            for ticket_id in ids:
                async with client.post(
                    f"/v1/tickets/{ticket_id}/claim", headers=headers
                ) as response:
                    if response.status == 200:
                        wins[ticket_id] = wins.get(ticket_id, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(agent(t) for t in tokens))
        elapsed = time.perf_counter() - started
        attempts = agents * len(ids)
        api = {
            "agents": agents,
            "tickets": len(ids),
            "attempts": attempts,
            "attempts_per_second": attempts / elapsed,
            "claimed": len(wins),
            "double_claims": sum(1 for n in wins.values() if n > 1),
        }

        # A collection of its own: the raw loop's half-written claims are not the queue's.
        collection = mongo[database]["bench_raw_tickets"]
        raw_ids = await seed_tickets(collection, tickets)
        raw_wins: dict[str, int] = {}

        async def raw(agent_id: int) -> None:
            for ticket_id in raw_ids:
                before = await collection.find_one_and_update(
                    {"_id": ticket_id, "status": "pending"},
                    {"$set": {"status": "assigned", "holder": {"agent_id": str(agent_id)}}},
                    return_document=ReturnDocument.BEFORE,
                )
                if before is not None:
                    raw_wins[ticket_id] = raw_wins.get(ticket_id, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(raw(i) for i in range(agents)))
        raw_elapsed = time.perf_counter() - started
    return {
        "api": api,
        "raw_find_one_and_update": {
            "attempts_per_second": agents * len(raw_ids) / raw_elapsed,
            "claimed": len(raw_wins),
            "double_claims": sum(1 for n in raw_wins.values() if n > 1),
        },
    }


async def seed_tickets(collection: Any, count: int) -> list[str]:
    """Pending tickets written straight into ``collection``, so that only the claiming is
    measured (ticket creation is covered by the pipeline figures)."""
    from baton_contracts import utc_now
    from baton_human_queue.store import ticket_document

    now = utc_now()
    ids = []
    for _ in range(count):
        ticket_id = str(uuid.uuid4())
        await collection.insert_one(
            ticket_document(
                ticket_id=ticket_id,
                kind="escalation",
                priority=10,
                department="bench",
                thread_id=f"bench-{uuid.uuid4().hex[:10]}",
                user_tier=None,
                user_message_id=uuid.uuid4(),
                source_event_id=uuid.uuid4(),
                correlation_id=uuid.uuid4(),
                sla_due_at=now,
                now=now,
                opens_thread=False,
                reason="bench",
            )
        )
        ids.append(ticket_id)
    return ids


# -- 5. memory ---------------------------------------------------------------------------


def peak_memory_mb(system: System) -> dict[str, float]:
    peaks = {}
    for name, program in system.programs.items():
        for process in program.processes:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except FileNotFoundError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[name] = int(line.split()[1]) / 1024
    return peaks


# -- where the CPU went ----------------------------------------------------------------------


def processes(system: System, stack: LocalStack) -> dict[str, int]:
    """Name -> pid of every process the pipeline runs on, and of this one."""
    found = {
        name: program.processes[0].pid
        for name, program in system.programs.items()
        if program.processes
    }
    for server in ("kafka", "mongodb"):
        if (pid := stack.pid(server)) is not None:
            found[stack.server_name(server)] = pid
    found["bench"] = os.getpid()  # the load generator shares the machine's cores
    return found


async def mongo_commands(system: System) -> dict[str, dict[str, float]]:
    """Service -> command -> MongoDB commands sent so far, from each service's /metrics."""
    counts: dict[str, dict[str, float]] = {}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as client:
        for name, program in system.programs.items():
            if not program.processes or name == "scripted-model":
                continue
            async with client.get(f"{program.url}/metrics") as response:
                text = await response.text()
            for family in text_string_to_metric_families(text):
                if family.name != "baton_mongo_commands":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        command = sample.labels["command"]
                        mine = counts.setdefault(name, {})
                        mine[command] = mine.get(command, 0.0) + sample.value
    return counts


def commands_per_message(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], messages: int
) -> dict[str, Any]:
    per: dict[str, Any] = {}
    total = 0.0
    for service, commands in after.items():
        mine = {
            command: round((n - before.get(service, {}).get(command, 0.0)) / max(1, messages), 2)
            for command, n in sorted(commands.items())
        }
        per[service] = {command: n for command, n in mine.items() if n}
        total += sum(mine.values())
    per["total"] = round(total, 1)
    return per


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return used


@contextmanager
def cpu_use(pids: dict[str, int]) -> Iterator[dict[str, float]]:
    """Each process's CPU time while the block runs, as a share of one core (the dict is
    filled in when the block ends)."""
    shares: dict[str, float] = {}
    before, started = cpu_seconds(pids), time.perf_counter()
    yield shares
    wall = time.perf_counter() - started
    after = cpu_seconds(pids)
    shares.update(
        {name: round((after[name] - before[name]) / wall, 3) for name in after if name in before}
    )


def start_profilers(
    pids: dict[str, int], seconds: float, *, skip: Sequence[str], out: Path
) -> list[subprocess.Popen[bytes]]:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy (uv sync --group bench installs it)")
    out.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(  # noqa: S603 - py-spy on our own processes
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(out / f"{name}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
        if name not in skip
    ]


def hottest(profile: Path, top: int = 12) -> list[tuple[str, float]]:
    """The functions most often on top of the stack (self time), as shares of the samples."""
    counts: dict[str, int] = {}
    total = 0
    for line in profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frame = stack.rsplit(";", 1)[-1]
        counts[frame] = counts.get(frame, 0) + int(count)
        total += int(count)
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:top]
    return [(frame, n / max(1, total)) for frame, n in ranked]


@dataclass
class Phase:
    """What one measured phase saw."""

    observed: Observed
    figures: dict[str, Any]
    """:func:`pipeline_figures` of what was observed."""
    cpu: dict[str, float]
    commands: dict[str, Any]

    def results(self) -> dict[str, Any]:
        """The phase's entries in ``bench.json``."""
        return {
            **{k: v for k, v in self.figures.items() if k != "latencies_ms"},
            "cpu_share_of_one_core": self.cpu,
            "mongo_commands_per_message": self.commands,
        }


@dataclass
class Measure:
    """Measured phases on one running system: the load, and what each process spent on it."""

    client: aiohttp.ClientSession
    threads: list[str]
    system: System
    stack: LocalStack
    mongo: AsyncMongoClient[dict[str, Any]]
    namespace: str
    profile: bool

    @property
    def prefix(self) -> str:
        """The run's topic prefix."""
        return f"{self.namespace}."

    async def phase(
        self, *, seconds: float, rate: float | None, name: str, threads: list[str] | None = None
    ) -> Phase:
        """Drive ``seconds`` of load at ``rate`` (None: full speed) on ``threads`` (default: the
        measure's own) while watching the topics, timing each process's CPU, counting each
        service's MongoDB commands and, with ``profile``, sampling the services into
        ``profiles/`` (``profiles/<name>/`` for phases other than the throughput)."""
        pids = processes(self.system, self.stack)
        servers = ("kafka", self.stack.mongo_server, "scripted-model")
        out = OUT / "profiles" if name == "throughput" else OUT / "profiles" / name
        async with watching(self.stack.kafka, self.prefix) as observed:
            profilers = (
                start_profilers(pids, seconds, skip=servers, out=out) if self.profile else []
            )
            before = await mongo_commands(self.system)
            with cpu_use(pids) as cpu:
                await drive(
                    self.client, threads or self.threads, observed, seconds=seconds, rate=rate
                )
            after = await mongo_commands(self.system)
        for profiler in profilers:
            profiler.wait()
        await stored_times(self.mongo, self.namespace, observed)
        figures = pipeline_figures(observed)
        return Phase(
            observed, figures, cpu, commands_per_message(before, after, figures["accepted"])
        )

    async def warm_up(
        self, *, seconds: float, rate: float | None, threads: list[str] | None = None
    ) -> None:
        """Unmeasured load at ``rate`` (None: full speed) on ``threads`` (default: the
        measure's own)."""
        await warm_up(
            self.client,
            threads or self.threads,
            self.stack.kafka,
            self.prefix,
            seconds=seconds,
            rate=rate,
        )

    async def at_rate(
        self, rate: float, *, seconds: float, warmup: float, threads: list[str], name: str
    ) -> tuple[Phase, dict[str, Any]]:
        """The latency at ``rate``, after ``warmup`` seconds unmeasured at that rate (a steady
        trickle runs other code paths than a flood: batches of one, fetches that wait; the
        JVMs compile those too). Returns the phase and its entries in ``bench.json``."""
        if warmup > 0:
            print(f"    warm-up at {rate:.1f} msg/s, {warmup:.0f} s ...", file=sys.stderr)
            await self.warm_up(seconds=warmup, rate=rate, threads=threads)
        print(f"    latency at {rate:.1f} msg/s ...", file=sys.stderr)
        # At a fixed rate most batches hold one record: the CPU and the commands per
        # message differ from the throughput phase.
        phase = await self.phase(seconds=seconds, rate=rate, name=name, threads=threads)
        model = await model_seconds(self.mongo, self.namespace, phase.observed)
        return phase, {
            "rate_per_second": rate,
            **phase.results(),
            "latency_without_model_ms": without_model(phase.observed, model),
        }


# -- the run -------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stack = LocalStack(ROOT / ".stack" / "bench", *BENCH_STACK_PORTS)
    # Every run starts from empty servers and logs. Left over from earlier runs, the topics
    # of their namespaces (hundreds) and a store file of a gigabyte slowed Kafka and
    # mongo-java-server down, so that runs were not comparable.
    await stack.down(purge=True)
    shutil.rmtree(OUT / "logs", ignore_errors=True)
    await stack.up()
    namespace = new_namespace("b")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb, tz_aware=True)
    system = System(
        stack,
        namespace,
        logs=OUT / "logs",
        overrides={"LOG_LEVEL": "WARNING", "ROUTER_ESCALATION_LIMIT_PER_USER": "1000000"},
    )
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
        "settings": {
            "seconds_per_phase": args.seconds,
            "conversations": args.threads,
            "latency_conversations": args.latency_conversations or args.threads,
            "warmup_s": args.warmup,
            "half_load_warmup_s": args.half_warmup,
            "latency_rate": args.latency_rate or "half the sustained rate",
            "mongo_server": stack.mongo_server,
        },
    }
    try:
        sample = MessageReceived.first(
            thread_id=uuid.uuid4().hex, message_id=uuid.uuid4(), text="What are your opening hours?"
        )
        size = len(sample.model_dump_json())
        print("1/6 baseline relay ...", file=sys.stderr)
        results["baseline"] = await baseline_relay(
            stack.kafka, messages=args.baseline_messages, size=size
        )
        results["baseline"]["message_bytes"] = size

        await system.start_all()
        async with aiohttp.ClientSession(
            base_url=system.programs["ingest"].url, timeout=TIMEOUT
        ) as client:
            threads = await new_threads(client, args.threads)
            measure = Measure(
                client, threads, system, stack, mongo, namespace, profile=args.profile
            )
            if args.warmup > 0:
                # Unmeasured: the JVMs compile their hot paths, the services fill their caches.
                print(f"2/6 warm-up, {args.warmup:.0f} s ...", file=sys.stderr)
                await measure.warm_up(seconds=args.warmup, rate=None)
            print("2/6 pipeline throughput ...", file=sys.stderr)
            # What lives on (the libraries, the clients, the threads) is frozen out of the
            # collector's reach, as the services do: full collections in this process, which
            # both drives the load and watches for replies, paused it for 70-220 ms at a
            # time and added those pauses to the latencies measured.
            gc.collect()
            gc.freeze()
            full = await measure.phase(seconds=args.seconds, rate=None, name="throughput")
            throughput = full.figures
            results["pipeline"] = {
                **full.results(),
                "ratio_to_baseline": throughput["per_second"] / results["baseline"]["per_second"],
            }
            print(json.dumps(results["pipeline"], default=str), file=sys.stderr)
            # Half the sustained rate, unless another rate is asked for (--latency-rate).
            half = args.latency_rate or max(1.0, throughput["per_second"] / 2)
            # The conversations of the throughput phase, or as many new ones as asked for.
            talk = threads
            if args.latency_conversations:
                talk = await new_threads(client, args.latency_conversations)
            print(f"3/6 latency at {half:.1f} msg/s and at lower rates ...", file=sys.stderr)
            trickle, results["latency_at_half_load"] = await measure.at_rate(
                half, seconds=args.seconds, warmup=args.half_warmup, threads=talk, name="half-load"
            )
            latency = trickle.figures
            # Lower rates, highest first, each after a shorter warm-up of its own: where the
            # latency target holds on this machine.
            curve = [results["latency_at_half_load"]]
            for fraction in args.curve:
                _, point = await measure.at_rate(
                    max(1.0, throughput["per_second"] * fraction),
                    seconds=args.seconds,
                    warmup=args.curve_warmup,
                    threads=talk,
                    name=f"at-{fraction:g}",
                )
                curve.append(point)
            results["latency_by_rate"] = latency_by_rate(curve, throughput["per_second"])
        print("4/6 claims ...", file=sys.stderr)
        results["claims"] = {
            str(n): await claims(system, mongo, namespace, n, args.tickets) for n in (10, 50)
        }
        print("5/6 memory ...", file=sys.stderr)
        results["peak_memory_mb"] = peak_memory_mb(system)
        # With the services stopped, Kafka serves the floor alone.
        await system.stop_all()
        print(f"6/6 Kafka alone at {half:.1f} msg/s ...", file=sys.stderr)
        kafka = stack.pid("kafka")
        results["kafka_floor"] = await kafka_floor(
            stack.kafka,
            rate=half,
            seconds=args.seconds,
            size=size,
            keys=args.threads,
            servers={} if kafka is None else {"kafka": kafka},
        )
        plot(throughput, latency, results)
    finally:
        await system.stop_all()
        # The run's data goes with it: the bench stack's store stays small from run to run.
        await mongo.drop_database(namespace)
        await mongo.close()
        await stack.down()
    return results


def plot(throughput: dict[str, Any], latency: dict[str, Any], results: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing: no plot", file=sys.stderr)
        return
    fig, (left, right, curve) = plt.subplots(1, 3, figsize=(16, 4))
    names = ["baseline relay", "pipeline"]
    values = [results["baseline"]["per_second"], throughput["per_second"]]
    left.bar(names, values, color=["#888888", "#2b6cb0"])
    left.set_ylabel("messages / second")
    left.set_title("Throughput")
    lat = latency["latencies_ms"]
    if lat:
        right.hist(lat, bins=40, color="#2b6cb0")
        for q, style in ((50, "-"), (95, "--"), (99, ":")):
            right.axvline(percentile(lat, q), color="black", linestyle=style, label=f"p{q}")
        right.legend()
    right.set_xlabel("ms, ingest accept -> message.sent")
    right.set_title(f"Latency at {results['latency_at_half_load']['rate_per_second']:.1f} msg/s")
    by_rate = results["latency_by_rate"]
    rates = [row["rate_per_second"] for row in by_rate["rates"]]
    for quantile, marker in (("p50", "o-"), ("p99", "s-")):
        curve.plot(
            rates,
            [row["latency_without_model_ms"][quantile] for row in by_rate["rates"]],
            marker,
            label=quantile,
        )
    curve.axhline(by_rate["target_p99_ms"], color="black", linestyle=":", label="target p99")
    curve.set_yscale("log")
    curve.set_xlabel("messages / second")
    curve.set_ylabel("ms, without the model call")
    curve.set_title("Latency by rate")
    curve.legend()
    fig.tight_layout()
    fig.savefig(OUT / "bench.png", dpi=110)


def fractions(text: str) -> tuple[float, ...]:
    """``--curve``'s fractions of the sustained rate, highest first."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from exc
    if any(not 0 < value <= 1 for value in values):
        raise argparse.ArgumentTypeError(f"fractions must be in (0, 1]: {text!r}")
    return tuple(sorted(values, reverse=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per measured phase")
    parser.add_argument("--threads", type=int, default=32, help="concurrent conversations")
    parser.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds of unmeasured load at full speed first (the JVMs compile their hot paths)",
    )
    parser.add_argument(
        "--half-warmup",
        type=float,
        default=30.0,
        help="seconds of unmeasured load at the half-load rate before that phase is measured",
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=None,
        help="msg/s of the latency phase instead of half the sustained rate",
    )
    parser.add_argument(
        "--latency-conversations",
        type=int,
        default=0,
        help="new conversations for the latency phase (default: the throughput phase's)",
    )
    parser.add_argument(
        "--curve",
        type=fractions,
        default=(0.4, 0.3, 0.2, 0.1),
        help="further latency phases, as fractions of the sustained rate (default "
        "0.4,0.3,0.2,0.1; '' for none)",
    )
    parser.add_argument(
        "--curve-warmup",
        type=float,
        default=10.0,
        help="seconds of unmeasured load at each further rate before it is measured",
    )
    parser.add_argument("--baseline-messages", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=40, help="tickets per claim round")
    parser.add_argument(
        "--profile", action="store_true", help="sample the services with py-spy (see above)"
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    # The services' loop (uvloop) for the relay and the load alike: the baseline is measured
    # on what the services run on, and the load generator takes less of the shared CPU.
    results = uvloop.run(run(args))
    (OUT / "bench.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    b = results["baseline"]["per_second"]
    p = results["pipeline"]
    lat = results["latency_at_half_load"]["latency_ms"]
    bare = results["latency_at_half_load"]["latency_without_model_ms"]
    floor = results["kafka_floor"]["latency_ms"]
    target = results["latency_by_rate"]
    holds = target["holds_up_to_per_second"]
    # Every measured phase: the throughput's, and each rate's (the half load's among them).
    lost = p["lost"] + sum(row["lost"] for row in target["rates"])
    duplicated = p["duplicated"] + sum(row["duplicated"] for row in target["rates"])
    within = (
        f"p99 without the model call within {target['target_p99_ms']:.0f} ms up to "
        f"{holds:.0f} msg/s ({target['holds_up_to_fraction_of_sustained']:.2f} of sustained)"
        if holds is not None
        else f"p99 without the model call over {target['target_p99_ms']:.0f} ms at every rate"
    )
    if args.profile:
        for profile in sorted((OUT / "profiles").glob("**/*.txt")):
            phase = "throughput" if profile.parent == OUT / "profiles" else profile.parent.name
            print(f"\n{profile.stem}, {phase}: hottest functions (self time)", file=sys.stderr)
            for frame, share in hottest(profile):
                print(f"  {share:6.1%}  {frame}", file=sys.stderr)
    print(
        f"\nbaseline {b:.0f}/s | pipeline {p['per_second']:.1f}/s ({p['ratio_to_baseline']:.2f} x B) | "
        f"p50/p95/p99 {lat['p50']:.0f}/{lat['p95']:.0f}/{lat['p99']:.0f} ms, "
        f"without the model call {bare['p50']:.0f}/{bare['p95']:.0f}/{bare['p99']:.0f} ms | "
        f"{within} | "
        f"Kafka alone p50/p95/p99 {floor['p50']:.0f}/{floor['p95']:.0f}/{floor['p99']:.0f} ms | "
        f"lost {lost}, duplicated {duplicated} in all phases | double claims "
        + ", ".join(f"{n}: {c['api']['double_claims']}" for n, c in results["claims"].items()),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
