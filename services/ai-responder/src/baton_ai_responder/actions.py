"""Running an action: a configured tool's call, at most once under its idempotency key.

The record of the call is written before it and after it (``ai_tool_executions``, decision
22). A record already done gives its outcome without calling again; one only started (a crash
between the two writes) sends the call again under the same key, for the tool to recognise
(``Idempotency-Key``). Every run is announced as ``action.executed``, under an id derived
from the key, so a replay announces it once.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from baton_contracts import ActionExecuted, Event, derive_id

from .metrics import TOOL_CALLS
from .store import Execution, ExecutionStore
from .tools import Tool, ToolOutcome


class ActionRunner:
    """Runs the actions of one turn, and keeps their announcements for its end."""

    def __init__(
        self,
        executions: ExecutionStore,
        *,
        cause: Event,
        thread_id: str,
        user_message_id: uuid.UUID,
    ) -> None:
        self._executions = executions
        self._cause = cause
        self._thread_id = thread_id
        self._user_message_id = user_message_id
        self.executed: list[Event] = []
        """``action.executed`` of the actions run so far."""

    async def run(
        self,
        tool: Tool,
        tool_call_id: str,
        arguments: dict[str, Any],
        *,
        key: uuid.UUID,
        request_id: uuid.UUID | None = None,
        ticket_id: str | None = None,
    ) -> ToolOutcome:
        if not tool.audited:
            return await tool.call(arguments, idempotency_key=str(key))
        before = await self._executions.begin(
            str(key), tool_name=tool.name, thread_id=self._thread_id, arguments=arguments
        )
        if before is not None and before.done:
            outcome = ToolOutcome(
                ok=before.ok,
                content=before.content,
                status_code=before.status_code,
                error=before.error,
            )
            duration_ms, resent = before.duration_ms, before.attempts > 1
        else:
            resent = before is not None
            started = time.monotonic()
            outcome = await tool.call(arguments, idempotency_key=str(key))
            duration_ms = round((time.monotonic() - started) * 1000)
            await self._executions.finish(
                str(key),
                Execution(
                    key=str(key),
                    done=True,
                    attempts=(before.attempts if before else 0) + 1,
                    ok=outcome.ok,
                    content=outcome.content,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=duration_ms,
                ),
            )
            TOOL_CALLS.labels(tool=tool.name, outcome="succeeded" if outcome.ok else "failed").inc()
        self.executed.append(
            ActionExecuted.caused_by(
                self._cause,
                event_id=derive_id(key, "action.executed"),
                tool_name=tool.name,
                tool_call_id=tool_call_id,
                message_id=self._user_message_id,
                request_id=request_id,
                ticket_id=ticket_id,
                idempotency_key=str(key),
                arguments=arguments,
                outcome="succeeded" if outcome.ok else "failed",
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=duration_ms,
                resent=resent,
            )
        )
        return outcome
