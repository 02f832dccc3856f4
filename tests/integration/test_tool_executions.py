"""The ai-responder's execution records on the real MongoDB-wire server: written before a
call and after it, so that a call is sent again only when its end was never recorded."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from baton_ai_responder.store import Execution, MongoExecutions
from baton_runtime import Document


async def test_a_record_tells_a_first_attempt_a_repeat_and_a_finished_call(
    db: AsyncDatabase[Document],
) -> None:
    executions = MongoExecutions(db)
    begin: dict[str, Any] = {
        "tool_name": "credit_order",
        "thread_id": "t-1",
        "arguments": {"amount": 5},
    }

    assert await executions.begin("k-1", **begin) is None  # never sent before
    again = await executions.begin("k-1", **begin)  # sent, its end never recorded
    assert again is not None
    assert (again.done, again.attempts) == (False, 1)

    await executions.finish(
        "k-1",
        Execution(key="k-1", done=True, attempts=2, ok=True, content='{"ok": 1}', duration_ms=7),
    )
    done = await executions.begin("k-1", **begin)
    assert done is not None
    assert (done.done, done.ok, done.content, done.duration_ms) == (True, True, '{"ok": 1}', 7)
    stored = await db["ai_tool_executions"].find_one({"_id": "k-1"})
    assert stored is not None
    assert (stored["attempts"], stored["status"]) == (2, "done")  # a finished call counts no more
