"""Human agents and their API tokens.

A token is shown once, when the agent is created; only its SHA-256 is stored. The token
carries 256 random bits, so a plain hash (no salt, no slow KDF) cannot be reversed and
lets a request find its agent with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from baton_contracts import utc_now

from .domain import Agent, QueueError, Role
from .ports import AgentRecord, AgentStore
from .staffing import AgentState, check_capacity

TOKEN_PREFIX = "bq_"  # noqa: S105 - marks Baton queue tokens, not a secret
DEPARTMENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
UNFIT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""A name is one line of text: no control characters, no lone surrogates."""


class InvalidAgentError(QueueError):
    code = "invalid_agent"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class NewAgent:
    agent: Agent
    token: str


def check_agent(name: str, departments: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidAgentError("name must have 1 to 200 characters")
    if UNFIT_IN_NAMES.search(name):
        raise InvalidAgentError("name must be one line without control characters")
    cleaned = tuple(dict.fromkeys(d.strip() for d in departments))
    if not cleaned:
        raise InvalidAgentError("an agent needs at least one department")
    for department in cleaned:
        if not DEPARTMENT_PATTERN.match(department):
            raise InvalidAgentError(
                f"department {department!r} must be 1-100 letters, digits, spaces, '.', '_' or '-'"
            )
    return name, cleaned


class Agents:
    def __init__(self, store: AgentStore) -> None:
        self._store = store

    async def create(
        self,
        name: str,
        departments: Sequence[str],
        *,
        role: Role = "agent",
        capacity: int | None = None,
    ) -> NewAgent:
        name, cleaned = check_agent(name, departments)
        agent = Agent(
            agent_id=f"agent-{uuid.uuid4().hex[:16]}",
            name=name,
            departments=cleaned,
            role=role,
            capacity=check_capacity(capacity),
        )
        token = new_token()
        await self._store.add(agent, token_hash=hash_token(token), now=utc_now())
        return NewAgent(agent, token)

    async def authenticate(self, token: str) -> Agent | None:
        state = await self.signed_in(token)
        return state.agent if state else None

    async def signed_in(self, token: str) -> AgentState | None:
        """The active agent whose token this is, as staffed now."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        found = await self._store.by_token_hash(digest)
        if found is None:
            return None
        state, stored = found
        return state if same_secret(digest, stored) else None

    async def rotate_token(self, agent_id: str) -> str | None:
        """A new token for the agent, shown once; the old one stops working with the write.
        None for an unknown agent."""
        token = new_token()
        if not await self._store.set_token(agent_id, hash_token(token), now=utc_now()):
            return None
        return token

    async def all(self) -> list[AgentRecord]:
        """Every agent, oldest first, without tokens."""
        return await self._store.all()
