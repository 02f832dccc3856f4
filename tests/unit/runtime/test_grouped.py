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


async def test_a_lone_item_is_written_at_once() -> None:
    writer = Writer()
    writer.release.set()

    await GroupedWrites(writer.write).submit(1)

    assert writer.calls == [[1]]


async def test_items_arriving_during_a_write_share_the_next() -> None:
    writer = Writer()
    grouped = GroupedWrites(writer.write)
    first = asyncio.create_task(grouped.submit(1))
    await settle()
    later = [asyncio.create_task(grouped.submit(i)) for i in (2, 3, 4)]
    await settle()
    assert writer.calls == [[1]]  # the others wait for the write in flight

    writer.release.set()
    await asyncio.gather(first, *later)

    assert writer.calls == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_only_its_own_callers() -> None:
    writer = Writer()
    writer.fail_on = {2}
    grouped = GroupedWrites(writer.write)
    first = asyncio.create_task(grouped.submit(1))
    await settle()
    second = asyncio.create_task(grouped.submit(2))
    third = asyncio.create_task(grouped.submit(3))
    await settle()
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
    first = asyncio.create_task(grouped.submit(0))
    await settle()
    impatient = asyncio.create_task(grouped.submit(1))
    patient = asyncio.create_task(grouped.submit(2))
    await settle()
    impatient.cancel()
    await settle()
    writer.release.set()

    await asyncio.gather(first, patient)
    assert writer.calls == [[0], [1, 2]]
    assert impatient.cancelled()
