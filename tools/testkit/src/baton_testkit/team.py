"""A team of human agents working the human queue over its HTTP API, as people and their
tools do: list the queue, claim a ticket, reply to the user, resolve it.

Each agent works one ticket at a time. What the API says to try again (any 5xx, a 503
for a busy ticket included; a 409 for a ticket that "keeps changing"), timeouts and
connection errors while the service is down are retried with the same request, which the
API makes safe: claiming a ticket one holds renews the claim, a reply carries an
``Idempotency-Key``, and resolving a ticket one resolved already returns it. A claim refused because the agent is at capacity
(``409 at_capacity``) means "work what you hold, try another ticket later"; a ticket that
arrives already assigned to an agent (auto-assignment) is worked by that agent.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

Handback = Literal["ai", "none"]
TRANSIENT_CONFLICT = "try again"
"""In a 409's detail: the ticket changed under the request, which may be repeated."""


class GaveUpError(Exception):
    """A request still failing after the team's patience: the service did not come back."""


@dataclass
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.body.get("code", ""))


@dataclass
class TeamAgent:
    agent_id: str
    name: str
    token: str
    full_until: float = 0.0
    """While at capacity: until when it only works the tickets it holds."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Team:
    """Agents working ``queue_url``'s tickets until :meth:`stop`.

    ``replies`` holds, per ticket, the ids of the replies the API confirmed; ``approved``,
    per approval ticket, the draft whose approval it confirmed (``actions_approved``, per
    action ticket, the tool call it approved as proposed); ``resolved`` each ticket
    the team resolved with the user messages it held at that moment. The
    tickets of ``hand_back_to_ai`` threads are resolved with handback ``ai``, the others
    with ``none`` (people keep the thread)."""

    queue_url: str
    admin_token: str
    size: int = 3
    poll_s: float = 0.25
    patience_s: float = 120.0
    hand_back_to_ai: Collection[str] = ()
    agents: list[TeamAgent] = field(default_factory=list)
    replies: dict[str, set[uuid.UUID]] = field(default_factory=dict)
    approved: dict[str, uuid.UUID] = field(default_factory=dict)
    actions_approved: dict[str, str] = field(default_factory=dict)
    """Per action ticket, the tool call whose approval the API confirmed."""
    resolved: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    """Claims won (``claims``), tickets found held (``worked_held``: a claim whose answer
    was lost, or an assignment by the queue), refusals by action and code, retries by
    cause (``retried_<cause>``), requests given up (``gave_up``)."""
    in_flight: Counter[str] = field(default_factory=Counter)
    """Requests under way, by action (claim, reply, resolve, ...)."""
    answers: int = 0
    """Requests the API answered (not with a 5xx): it is serving when this grows."""
    _covered: dict[uuid.UUID, asyncio.Event] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _client: aiohttp.ClientSession | None = None

    async def hire(self, prefix: str = "Agent") -> None:
        """Create ``size`` agents through the admin API, each with its own token."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with aiohttp.ClientSession(
            base_url=self.queue_url, timeout=aiohttp.ClientTimeout(total=10)
        ) as client:
            for i in range(self.size):
                body = {"name": f"{prefix} {i + 1}", "departments": ["support"]}
                async with client.post("/v1/admin/agents", json=body, headers=headers) as r:
                    r.raise_for_status()
                    made = await r.json()
                self.agents.append(TeamAgent(made["agent_id"], made["name"], made["token"]))

    async def run(self) -> None:
        """Work until :meth:`stop`; each agent finishes the ticket in hand first."""
        async with aiohttp.ClientSession(
            base_url=self.queue_url, timeout=aiohttp.ClientTimeout(total=5)
        ) as client:
            self._client = client
            try:
                await asyncio.gather(*(self._work(agent) for agent in self.agents))
            finally:
                self._client = None

    def stop(self) -> None:
        self._stopping.set()

    def covered(self, message_id: uuid.UUID) -> bool:
        """Whether a ticket holding this user message has been resolved by the team."""
        event = self._covered.get(message_id)
        return event is not None and event.is_set()

    async def answered(self, message_id: uuid.UUID) -> None:
        """Return once a ticket holding this user message has been replied to and resolved."""
        await self._covered.setdefault(message_id, asyncio.Event()).wait()

    async def busy(self, actions: Collection[str], timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until one of ``actions`` is under way."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not any(self.in_flight[a] for a in actions):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def serving(self, since: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the API answers again: more than ``since``
        :attr:`answers`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.answers <= since:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    # ------------------------------------------------------------ one agent

    async def _work(self, agent: TeamAgent) -> None:
        while not self._stopping.is_set():
            try:
                ticket = await self._next(agent)
                if ticket is None:
                    await asyncio.sleep(self.poll_s * random.uniform(0.5, 1.5))  # noqa: S311
                    continue
                await self._handle(agent, ticket)
            except GaveUpError:
                self.counts["gave_up"] += 1

    async def _next(self, agent: TeamAgent) -> dict[str, Any] | None:
        """A ticket ``agent`` holds (claimed before a lost answer, or assigned to it),
        else one it has just claimed from the queue, else None."""
        mine = await self._call(agent, "list", "GET", "/v1/tickets", params={"status": "assigned"})
        for ticket in mine.body.get("tickets", []):
            holder = ticket.get("assigned_agent") or {}
            if holder.get("agent_id") == agent.agent_id:
                self.counts["worked_held"] += 1
                return dict(ticket)
        if time.monotonic() < agent.full_until:
            return None
        queue = await self._call(
            agent, "list", "GET", "/v1/tickets", params={"status": "pending", "limit": "10"}
        )
        # Agents pick among the first few, as people do: some pick the same one and race.
        first = list(queue.body.get("tickets", []))[:3]
        random.shuffle(first)
        for ticket in first:
            claimed = await self._call(
                agent, "claim", "POST", f"/v1/tickets/{ticket['ticket_id']}/claim"
            )
            if claimed.status == 200:
                self.counts["claims"] += 1
                return dict(claimed.body)
            self.counts[f"claim_{claimed.code or claimed.status}"] += 1
            if claimed.code == "at_capacity":
                agent.full_until = time.monotonic() + 1.0
                return None
        return None

    async def _handle(self, agent: TeamAgent, ticket: dict[str, Any]) -> None:
        ticket_id = ticket["ticket_id"]
        path = f"/v1/tickets/{ticket_id}"
        kind = ticket["kind"]
        if kind in ("conversation", "escalation"):
            replied: set[str] = set()
            while True:
                latest = str(ticket["message_ids"][-1])
                if latest not in replied:
                    answer = await self._call(
                        agent,
                        "reply",
                        "POST",
                        f"{path}/reply",
                        json={
                            "text": f"{agent.name} here, about your message {latest}.",
                            "in_reply_to": latest,
                        },
                        key=f"{ticket_id}:{latest}",
                    )
                    if answer.status != 200:
                        self.counts[f"reply_{answer.code or answer.status}"] += 1
                        return
                    replied.add(latest)
                    message_id = uuid.UUID(answer.body["message_id"])
                    self.replies.setdefault(ticket_id, set()).add(message_id)
                # A message that came in meanwhile is answered before the ticket is closed.
                look = await self._call(agent, "look", "GET", path)
                if look.status != 200:
                    self.counts[f"look_{look.code or look.status}"] += 1
                    return
                ticket = look.body["ticket"]
                if str(ticket["message_ids"][-1]) in replied:
                    break
            handback: Handback = "ai" if ticket["thread_id"] in self.hand_back_to_ai else "none"
            done = await self._call(
                agent, "resolve", "POST", f"{path}/resolve", json={"handback": handback}
            )
        elif kind == "question":
            done = await self._call(
                agent, "answer", "POST", f"{path}/answer", json={"text": f"{agent.name}: yes."}
            )
        elif kind == "action":  # run the call as the AI proposed it
            done = await self._call(
                agent, "approve_action", "POST", f"{path}/approve-action", json={}
            )
        else:  # approval: send the draft as written
            done = await self._call(agent, "approve", "POST", f"{path}/approve")
        if done.status != 200:
            self.counts[f"resolve_{done.code or done.status}"] += 1
            return
        self.counts["resolved"] += 1
        if kind == "approval":
            self.approved[ticket_id] = uuid.UUID(done.body["draft_message_id"])
        if kind == "action":
            self.actions_approved[ticket_id] = str(done.body["tool_call_id"])
        message_ids = [uuid.UUID(m) for m in done.body["message_ids"]]
        self.resolved[ticket_id] = message_ids
        for message_id in message_ids:
            self._covered.setdefault(message_id, asyncio.Event()).set()

    async def _call(
        self,
        agent: TeamAgent,
        action: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        key: str | None = None,
    ) -> Answer:
        """The API's answer, once it is not one to try again; retried (the same request,
        the same key) for up to ``patience_s``."""
        assert self._client is not None, "the team is not running"
        headers = dict(agent.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        deadline = time.monotonic() + self.patience_s
        while True:
            cause = await self._once(action, method, path, headers, json, params)
            if isinstance(cause, Answer):
                return cause
            self.counts[f"retried_{cause}"] += 1
            if time.monotonic() > deadline:
                raise GaveUpError(f"{method} {path}: still {cause} after {self.patience_s:.0f} s")
            await asyncio.sleep(0.2)

    async def _once(
        self,
        action: str,
        method: str,
        path: str,
        headers: dict[str, str],
        json: Any,
        params: dict[str, str] | None,
    ) -> Answer | str:
        """The answer, or why to try again."""
        assert self._client is not None
        self.in_flight[action] += 1
        try:
            async with self._client.request(
                method, path, json=json, params=params, headers=headers
            ) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = {}
                answer = Answer(response.status, body if isinstance(body, dict) else {})
                if answer.status < 500:
                    self.answers += 1
        except TimeoutError:
            return "timeout"
        except aiohttp.ClientError:
            return "connection"
        finally:
            self.in_flight[action] -= 1
        if answer.status >= 500:
            return f"{answer.status}_{answer.code or 'error'}"
        if answer.status == 409 and TRANSIENT_CONFLICT in str(answer.body.get("detail", "")):
            return "409_changing"
        return answer
