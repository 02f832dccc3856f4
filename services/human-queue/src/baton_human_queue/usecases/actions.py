"""The action audit as people read it: a ticket's history, the export, and the AI
responder's report of each tool call it ran (``action.executed``)."""

from __future__ import annotations

from datetime import datetime

from baton_contracts import ActionExecuted

from .. import audit
from ..audit import ActionRecord
from ..ports import ActionAuditStore
from ..tickets import ActionTicket, Ticket


class ActionRecords:
    def __init__(self, *, audit: ActionAuditStore) -> None:
        self._audit = audit

    async def history(self, ticket: Ticket) -> list[ActionRecord]:
        """What happened to an action ticket's call, oldest first (other kinds have none)."""
        if not isinstance(ticket, ActionTicket):
            return []
        return await self._audit.of_ticket(ticket.ticket_id)

    async def export(self, since: datetime | None, until: datetime | None) -> list[ActionRecord]:
        """Every record of [since, until), oldest first."""
        return await self._audit.between(since, until)

    async def executed(self, event: ActionExecuted) -> bool:
        """Keep the record of a tool call the AI ran, once however often Kafka delivers it;
        True when it is new."""
        return await self._audit.add(audit.executed(event))
