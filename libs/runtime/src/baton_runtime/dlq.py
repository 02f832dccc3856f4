"""Replay a dead-letter topic after the cause is fixed.

    baton-dlq replay message.submitted            # every dead letter not replayed yet
    baton-dlq replay message.submitted --dry-run  # list them, change nothing
    baton-dlq replay route.decided --code unknown_thread --limit 10

Each dead letter's original bytes and key go back to the topic named in its
``dlq-original-topic`` header; the consumers' idempotency makes a replay of something that
already succeeded harmless. Progress is kept in the consumer group ``<prefix>baton-dlq-replay``,
so a second run continues where the first stopped (a run with ``--code`` records no
progress, so the letters it skipped stay for a later run). Connection settings are the services'
``KAFKA_*`` variables.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from baton_contracts.topics import dead_letter_topic

from ._kafka import PRODUCER_SETTINGS, client_security_options
from ._settings import KafkaSettings


@dataclass(frozen=True)
class Replayed:
    offset: int
    code: str
    reason: str
    target: str


async def replay(
    settings: KafkaSettings,
    topic: str,
    *,
    dry_run: bool = False,
    code: str | None = None,
    limit: int | None = None,
) -> list[Replayed]:
    """Republish the dead letters of ``topic`` (a base name, e.g. ``message.submitted``)
    that arrived before this call; returns what was (or, dry, would be) replayed."""
    source = settings.topic(dead_letter_topic(topic))
    security = client_security_options(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers.split(","),
        group_id=settings.group("baton-dlq-replay"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **security,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers.split(","),
        **PRODUCER_SETTINGS,
        **security,
    )
    await consumer.start()
    await producer.start()
    replayed: list[Replayed] = []
    try:
        partitions = await _partitions(settings, source)
        if not partitions:
            return []
        consumer.assign(partitions)
        # Stop at the end as it is now: dead letters that arrive during the replay (the same
        # record failing again) wait for the next run instead of looping.
        ends = await consumer.end_offsets(partitions)
        for partition in partitions:
            position = await consumer.position(partition)
            while position < ends[partition] and (limit is None or len(replayed) < limit):
                batch = await consumer.getmany(partition, timeout_ms=2000, max_records=100)
                records = batch.get(partition, [])
                if not records:
                    break
                for record in records:
                    if record.offset >= ends[partition] or (
                        limit is not None and len(replayed) >= limit
                    ):
                        break
                    headers = {k: v.decode() for k, v in record.headers or ()}
                    target = headers.get("dlq-original-topic", settings.topic(topic))
                    record_code = headers.get("dlq-error-code", "")
                    if code is None or record_code == code:
                        if not dry_run:
                            await producer.send_and_wait(target, record.value, key=record.key)
                        replayed.append(
                            Replayed(
                                record.offset, record_code, headers.get("dlq-reason", ""), target
                            )
                        )
                    position = record.offset + 1
                # A filtered run leaves the others for a later run, so it records no progress.
                if not dry_run and code is None:
                    await consumer.commit({partition: position})
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


async def _partitions(settings: KafkaSettings, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers.split(","),
        **client_security_options(settings),
    )
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described.get("error_code"):  # the topic does not exist: nothing was dead-lettered
        return []
    return [TopicPartition(topic, p["partition"]) for p in described.get("partitions", [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="baton-dlq", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("replay", help="republish dead letters to their original topic")
    run.add_argument("topic", help="the original topic's base name, e.g. message.submitted")
    run.add_argument("--dry-run", action="store_true", help="list, do not republish")
    run.add_argument("--code", help="only dead letters with this dlq-error-code")
    run.add_argument("--limit", type=int, help="at most this many")
    args = parser.parse_args(argv)
    done = asyncio.run(
        replay(KafkaSettings(), args.topic, dry_run=args.dry_run, code=args.code, limit=args.limit)
    )
    verb = "would replay" if args.dry_run else "replayed"
    for item in done:
        print(f"{verb} offset {item.offset} [{item.code}] -> {item.target}: {item.reason}")
    print(f"{verb} {len(done)} dead letter(s) of {args.topic}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
