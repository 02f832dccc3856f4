"""The conversation core's cache of settled messages, and what it may hold."""

from __future__ import annotations

import uuid

from baton_conversations import Message
from baton_conversations._cache import Settled


def message(status: str | None = None) -> Message:
    return Message(
        message_id=uuid.uuid4(),
        thread_id="t",
        role="assistant",
        content="x",
        status=status,  # type: ignore[arg-type]
    )


def test_the_least_recently_used_message_goes_first() -> None:
    cache = Settled(2)
    a, b, c = message(), message(), message()
    cache.keep(a)
    cache.keep(b)
    assert cache.get(str(a.message_id)) == a  # b is now the least recently used
    cache.keep(c)
    assert cache.get(str(b.message_id)) is None
    assert cache.get(str(a.message_id)) == a
    assert cache.get(str(c.message_id)) == c


def test_only_drafts_awaiting_a_decision_are_left_out() -> None:
    cache = Settled(10)
    for status in (None, "approved", "rejected"):
        kept = cache.keep(message(status))
        assert cache.get(str(kept.message_id)) == kept
    draft = cache.keep(message("pending_approval"))
    assert cache.get(str(draft.message_id)) is None
