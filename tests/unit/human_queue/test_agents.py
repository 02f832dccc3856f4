"""Agents' tokens: shown once, stored hashed, checked in constant time."""

from __future__ import annotations

import pytest

from baton_human_queue.agents import TOKEN_PREFIX, Agents, InvalidAgentError, hash_token
from tests.support.queue_records import MemoryAgents


async def test_a_new_agent_gets_a_token_that_is_stored_only_as_a_hash() -> None:
    store = MemoryAgents()
    created = await Agents(store).create(" Alex ", ["billing", "support", "billing"])

    assert created.agent.name == "Alex"
    assert created.agent.departments == ("billing", "support")
    assert created.token.startswith(TOKEN_PREFIX)
    assert len(created.token) > 40
    [stored_hash] = store.hashes.values()
    assert stored_hash == hash_token(created.token)
    assert created.token not in stored_hash


async def test_the_token_finds_its_agent_and_nothing_else_does() -> None:
    agents = Agents(MemoryAgents())
    alex = await agents.create("Alex", ["billing"])
    bo = await agents.create("Bo", ["shipping"])

    assert await agents.authenticate(alex.token) == alex.agent
    assert await agents.authenticate(bo.token) == bo.agent
    assert alex.token != bo.token
    assert await agents.authenticate(alex.token[:-1]) is None
    assert await agents.authenticate(hash_token(alex.token)) is None  # the hash is no token
    assert await agents.authenticate("") is None


@pytest.mark.parametrize(
    ("name", "departments", "fragment"),
    [
        ("", ["billing"], "name"),
        ("Alex", [], "at least one department"),
        ("Alex", ["bad/department"], "department 'bad/department'"),
        ("x" * 201, ["billing"], "name"),
    ],
)
async def test_invalid_agents_are_refused(name: str, departments: list[str], fragment: str) -> None:
    with pytest.raises(InvalidAgentError, match=fragment):
        await Agents(MemoryAgents()).create(name, departments)
