"""The bounded least-recently-used map behind the history cache, and what it may hold."""

from __future__ import annotations

import uuid

from baton_runtime.history import Message, Recent, settled


def test_the_least_recently_used_entry_goes_first() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # "b" is now the least recently used
    recent.put("c", 3)

    assert recent.get("b") is None
    assert recent.get("a") == 1
    assert recent.get("c") == 3
    assert len(recent) == 2


def test_only_drafts_awaiting_a_decision_are_unsettled() -> None:
    def with_status(status: str | None) -> Message:
        return Message(
            message_id=uuid.uuid4(),
            thread_id="t",
            role="assistant",
            content="x",
            status=status,  # type: ignore[arg-type]
        )

    assert settled(with_status(None))
    assert settled(with_status("approved"))
    assert settled(with_status("rejected"))
    assert not settled(with_status("pending_approval"))
