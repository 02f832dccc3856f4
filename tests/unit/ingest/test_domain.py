from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from baton_conversations import Thread
from baton_ingest.domain import (
    Submission,
    UserMismatchError,
    check_user,
    message_id_for,
    received_event,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
THREAD = Thread("t1", "u1", "web", "billing", "vip", "ai", None, "open", {}, NOW, NOW)


def test_idempotency_key_gives_a_stable_message_id_per_thread() -> None:
    a = Submission(thread_id="t1", text="x", idempotency_key="k")
    assert message_id_for(a) == message_id_for(
        Submission(thread_id="t1", text="y", idempotency_key="k")
    )
    assert message_id_for(a) != message_id_for(
        Submission(thread_id="t2", text="x", idempotency_key="k")
    )
    assert message_id_for(Submission(thread_id="t1", text="x")) != message_id_for(
        Submission(thread_id="t1", text="x")
    )
    fallback = uuid.uuid4()
    assert message_id_for(Submission(thread_id="t1", text="x"), fallback=fallback) == fallback


def test_received_event_is_stable_for_one_message() -> None:
    message_id = uuid.uuid4()
    first = received_event(THREAD, Submission(thread_id="t1", text="hi"), message_id)
    again = received_event(THREAD, Submission(thread_id="t1", text="hi"), message_id)
    assert first.event_id == again.event_id
    assert (first.department, first.user_tier, first.user_id) == ("billing", "vip", "u1")


def test_a_message_may_name_its_threads_user_only() -> None:
    check_user(THREAD, None)
    check_user(THREAD, "u1")
    with pytest.raises(UserMismatchError, match="not the user of this thread"):
        check_user(THREAD, "u2")
