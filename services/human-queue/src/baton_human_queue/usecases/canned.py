"""Canned replies: admins manage them; agents list the ones they may use, rendered for a
ticket's thread when they pick one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from baton_contracts import utc_now
from baton_conversations import ConversationStore

from ..canned import (
    CannedResponse,
    CannedStore,
    RenderContext,
    Rendered,
    UnknownCannedResponseError,
    check_department,
    check_department_listing,
    check_shortcut,
    check_template,
    check_title,
    for_ticket_department,
    may_use_canned,
    render,
    stamp,
)
from ..domain import Agent
from ..ports import TicketStore
from ._common import visible

UNSET: object = object()
"""A field an update leaves as it is (``None`` is a value: no department)."""


@dataclass(frozen=True)
class RenderedCanned:
    canned: CannedResponse
    rendered: Rendered


class CannedResponses:
    def __init__(
        self,
        *,
        canned: CannedStore,
        tickets: TicketStore | None,
        conversations: ConversationStore | None,
        max_length: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        # ``tickets`` and ``conversations`` only for rendering; the admin CLI manages
        # replies without them.
        self._canned = canned
        self._tickets = tickets
        self._conversations = conversations
        self._max_length = max_length
        self._now = clock

    # ------------------------------------------------------------ admins

    async def create(
        self, *, department: str | None, shortcut: str, title: str, text: str
    ) -> CannedResponse:
        now = stamp(self._now())
        canned = CannedResponse(
            canned_id=f"canned-{uuid.uuid4().hex[:16]}",
            department=check_department(department),
            shortcut=check_shortcut(shortcut),
            title=check_title(title),
            text=check_template(text, max_length=self._max_length),
            created_at=now,
            updated_at=now,
        )
        await self._canned.add(canned)
        return canned

    async def get(self, canned_id: str) -> CannedResponse:
        found = await self._canned.get(canned_id)
        if found is None:
            raise UnknownCannedResponseError(f"canned response {canned_id!r} does not exist")
        return found

    async def update(
        self,
        canned_id: str,
        *,
        department: str | object | None = UNSET,
        shortcut: str | object = UNSET,
        title: str | object = UNSET,
        text: str | object = UNSET,
    ) -> CannedResponse:
        """Change the given fields; the others stay. The last of two concurrent updates
        wins whole, like an edit saved over another."""
        current = await self.get(canned_id)
        changes: dict[str, object] = {"updated_at": stamp(self._now())}
        if department is not UNSET:
            assert department is None or isinstance(department, str)
            changes["department"] = check_department(department)
        if isinstance(shortcut, str):
            changes["shortcut"] = check_shortcut(shortcut)
        if isinstance(title, str):
            changes["title"] = check_title(title)
        if isinstance(text, str):
            changes["text"] = check_template(text, max_length=self._max_length)
        updated = current.model_copy(update=changes)
        if not await self._canned.replace(updated):
            raise UnknownCannedResponseError(f"canned response {canned_id!r} does not exist")
        return updated

    async def delete(self, canned_id: str) -> None:
        if not await self._canned.delete(canned_id):
            raise UnknownCannedResponseError(f"canned response {canned_id!r} does not exist")

    async def all(self, department: str | None = None) -> list[CannedResponse]:
        """Every reply, or one department's (not the shared ones)."""
        if department is None:
            return await self._canned.search(None)
        return await self._canned.search([check_department(department)])

    # ------------------------------------------------------------ agents

    async def usable(self, agent: Agent, department: str | None = None) -> list[CannedResponse]:
        """The replies ``agent`` may use: of its departments and the shared ones, or of one
        of its departments (with the shared ones)."""
        check_department_listing(agent, department)
        # Every reply, filtered by the one rule of who may use one (a few hundred at most).
        found = await self._canned.search([None, department] if department else None)
        return [c for c in found if may_use_canned(agent, c)]

    async def for_ticket(self, agent: Agent, ticket_id: str) -> list[RenderedCanned]:
        """The replies for a ticket ``agent`` may see, filled in for its thread and for
        ``agent``; a field the thread lacks is empty and listed in ``missing``."""
        assert self._tickets is not None
        assert self._conversations is not None
        ticket = await visible(self._tickets, agent, ticket_id)
        thread = await self._conversations.get_thread(ticket.thread_id)
        context = RenderContext(
            user_id=thread.user_id if thread else None,
            metadata=thread.metadata if thread else {},
            agent_name=agent.name,
        )
        found = await self._canned.search([None, ticket.department] if ticket.department else None)
        return [
            RenderedCanned(c, render(c.text, context))
            for c in found
            if may_use_canned(agent, c) and for_ticket_department(c, ticket.department)
        ]
