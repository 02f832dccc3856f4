"""Where the work went during a phase: each process's CPU time, each service's MongoDB
commands."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from baton_testkit import LocalStack, System

TIMEOUT = aiohttp.ClientTimeout(total=30)


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


def instances(system: System, stack: LocalStack) -> dict[str, list[int]]:
    """Name -> the pids of every instance of each program, of the stack's servers and of
    this process."""
    found = {
        name: [process.pid for process in program.processes]
        for name, program in system.programs.items()
        if program.processes
    }
    for server in ("kafka", "mongodb"):
        if (pid := stack.pid(server)) is not None:
            found[stack.server_name(server)] = [pid]
    found["bench"] = [os.getpid()]
    return found


async def service_metrics(system: System) -> dict[str, list[str]]:
    """Service -> the text of each of its instances' /metrics."""
    texts: dict[str, list[str]] = {}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as client:
        for name, program in system.programs.items():
            if not program.processes or name == "scripted-model":
                continue
            for url in program.urls:
                async with client.get(f"{url}/metrics") as response:
                    texts.setdefault(name, []).append(await response.text())
    return texts


async def mongo_commands(system: System) -> dict[str, dict[str, float]]:
    """Service -> command -> MongoDB commands sent so far by all its instances, from their
    /metrics."""
    counts: dict[str, dict[str, float]] = {}
    for name, texts in (await service_metrics(system)).items():
        for text in texts:
            for family in text_string_to_metric_families(text):
                if family.name != "baton_mongo_commands":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        command = sample.labels["command"]
                        mine = counts.setdefault(name, {})
                        mine[command] = mine.get(command, 0.0) + sample.value
    return counts


async def partitions_held(system: System) -> dict[str, list[int]]:
    """Service -> the partitions each instance's consumers hold, over all its topics
    (``baton_consumer_partitions``)."""
    held: dict[str, list[int]] = {}
    for name, texts in (await service_metrics(system)).items():
        for text in texts:
            total = 0
            for family in text_string_to_metric_families(text):
                if family.name == "baton_consumer_partitions":
                    total += sum(int(sample.value) for sample in family.samples)
            held.setdefault(name, []).append(total)
    return held


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


def cpu_seconds_of(pids: dict[str, list[int]]) -> dict[str, float]:
    """Name -> the CPU seconds its processes have used, together."""
    used: dict[str, float] = {}
    for name, group in pids.items():
        mine = cpu_seconds({str(pid): pid for pid in group})
        if mine:
            used[name] = sum(mine.values())
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


def cpu_ms_per_message(shares: dict[str, float], rate: float) -> dict[str, float]:
    """CPU milliseconds each process spent per message, from its share of one core at
    ``rate`` messages a second, and their total."""
    per = {name: round(share * 1000 / rate, 2) for name, share in sorted(shares.items())}
    per["total"] = round(sum(per.values()), 1)
    return per
