"""Kafka alone, as the floor under the pipeline: a relay's throughput (the baseline B), and
the pipeline's three hops as bare relays at the latency phase's rate."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
import uuid
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from baton_runtime import PRODUCER_SETTINGS
from baton_testkit import open_loop

from .accounting import cpu_use
from .stats import percentiles_ms


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
    first, done = asyncio.Event(), asyncio.Event()

    async def relay() -> None:
        async for record in relay_in:
            await producer.send_and_wait(target, record.value, key=record.key)
            await relay_in.commit()

    async def drain() -> None:
        nonlocal received
        async for _ in sink:
            received += 1
            first.set()
            if received >= messages:
                done.set()
                return

    # Warm up: the relay's group must be assigned before timing starts.
    await producer.send_and_wait(source, payload, key=b"warm")
    relay_task = asyncio.create_task(relay())
    drain_task = asyncio.create_task(drain())
    await first.wait()
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
    pending: set[bytes] = set()
    all_in = asyncio.Event()

    async def drain() -> None:
        async for record in sink:
            record_id = record.value[:32]
            seen_at.setdefault(record_id, time.time())
            pending.discard(record_id)
            if not pending:
                all_in.set()

    async def send(index: int, record_id: bytes) -> None:
        sent_at[record_id] = time.time()
        pending.add(record_id)
        all_in.clear()
        await producer.send_and_wait(
            first, record_id.ljust(size, b"x"), key=f"k{index % keys}".encode()
        )

    async def paced(duration: float) -> None:
        """Send at ``rate`` for ``duration`` seconds, then wait (30 s at most) for the
        records to arrive."""
        await open_loop(rate, duration, lambda i: send(i + 1, uuid.uuid4().hex.encode()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), timeout=30)

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
