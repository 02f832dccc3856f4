"""GroupedWrites: what arrives during a write shares the next one."""

from __future__ import annotations

import asyncio

import pytest

from baton_runtime.grouped import GroupedWrites


class Writer:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_on: set[int] = set()

    async def write(self, items: list[int]) -> None:
        self.calls.append(items)
        await self.release.wait()
        if self.fail_on & set(items):
            raise ConnectionError(f"could not write {items}")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def submitted(grouped: GroupedWrites[int], *items: int) -> list[asyncio.Task[None]]:
    """Callers submitting ``items``, each now writing or waiting for a write."""
    callers = [asyncio.create_task(grouped.submit(item)) for item in items]
    await settle()
    return callers


async def test_a_lone_item_is_written_at_once() -> None:
    writer = Writer()
    writer.release.set()

    await GroupedWrites(writer.write).submit(1)

    assert writer.calls == [[1]]


async def test_items_arriving_during_a_write_share_the_next() -> None:
    writer = Writer()
    grouped = GroupedWrites(writer.write)
    [first] = await submitted(grouped, 1)
    later = await submitted(grouped, 2, 3, 4)
    assert writer.calls == [[1]]  # the others wait for the write in flight

    writer.release.set()
    await asyncio.gather(first, *later)

    assert writer.calls == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_only_its_own_callers() -> None:
    writer = Writer()
    writer.fail_on = {2}
    grouped = GroupedWrites(writer.write)
    [first] = await submitted(grouped, 1)
    second, third = await submitted(grouped, 2, 3)
    writer.release.set()

    await first
    with pytest.raises(ConnectionError):
        await second
    with pytest.raises(ConnectionError):
        await third
    await grouped.submit(4)  # the next write goes ahead
    assert writer.calls == [[1], [2, 3], [4]]


async def test_a_cancelled_caller_does_not_cancel_the_write() -> None:
    writer = Writer()
    grouped = GroupedWrites(writer.write)
    [first] = await submitted(grouped, 0)
    impatient, patient = await submitted(grouped, 1, 2)
    impatient.cancel()
    await settle()
    writer.release.set()

    await asyncio.gather(first, patient)
    assert writer.calls == [[0], [1, 2]]
    assert impatient.cancelled()
