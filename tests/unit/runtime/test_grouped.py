"""Grouped and GroupedWrites: what arrives during a call shares the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from baton_runtime import Grouped, GroupedWrites


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


class Lookup:
    """A grouped read: one result per item, an error for the items it cannot answer."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()
        self.missing: set[int] = set()
        self.short = False

    async def run(self, items: list[int]) -> Sequence[str | Exception]:
        self.calls.append(items)
        await self.release.wait()
        results: list[str | Exception] = [
            KeyError(item) if item in self.missing else f"value {item}" for item in items
        ]
        return results[:-1] if self.short else results


async def test_each_caller_gets_the_result_for_its_own_item() -> None:
    lookup = Lookup()
    grouped: Grouped[int, str] = Grouped(lookup.run)
    first = asyncio.create_task(grouped.submit(1))
    await settle()
    later = [asyncio.create_task(grouped.submit(item)) for item in (2, 3, 2)]
    await settle()
    lookup.release.set()

    assert await asyncio.gather(first, *later) == ["value 1", "value 2", "value 3", "value 2"]
    assert lookup.calls == [[1], [2, 3, 2]]


async def test_an_error_for_one_item_goes_to_its_caller_alone() -> None:
    lookup = Lookup()
    lookup.missing = {3}
    grouped: Grouped[int, str] = Grouped(lookup.run)
    first = asyncio.create_task(grouped.submit(1))
    await settle()
    second, third = (asyncio.create_task(grouped.submit(item)) for item in (2, 3))
    await settle()
    lookup.release.set()

    assert await first == "value 1"
    assert await second == "value 2"
    with pytest.raises(KeyError):
        await third
    assert lookup.calls == [[1], [2, 3]]


async def test_a_call_that_answers_the_wrong_number_of_items_fails_all_its_callers() -> None:
    lookup = Lookup()
    lookup.short = True
    lookup.release.set()
    grouped: Grouped[int, str] = Grouped(lookup.run)

    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await grouped.submit(1)
