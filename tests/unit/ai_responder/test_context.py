"""Which messages the model sees for a turn."""

from __future__ import annotations

import uuid

from baton_ai_responder.context import build_context, with_question
from baton_conversations import Message


def msg(role: str, text: str) -> Message:
    return Message(message_id=uuid.uuid4(), thread_id="t", role=role, content=text)  # type: ignore[arg-type]


def test_a_question_in_the_window_leaves_it_unchanged() -> None:
    question = msg("user", "When do you open?")
    history = [msg("user", "hi"), msg("assistant", "hello"), question]

    assert with_question(history, question) == history


def test_a_question_pushed_out_of_the_window_comes_last() -> None:
    question = msg("user", "When do you open?")
    # Replies to earlier messages filled the window after the question was stored.
    history = [msg("assistant", f"reply {i}") for i in range(3)]

    context = with_question(history, question)

    assert [m.text for m in context] == ["reply 1", "reply 2", "When do you open?"]
    sent = build_context("system", context)
    assert sent[-1] == {"role": "user", "content": "When do you open?"}


def test_an_empty_window_holds_just_the_question() -> None:
    question = msg("user", "When do you open?")

    assert with_question([], question) == [question]
    assert with_question([msg("user", "x")], None)[0].text == "x"
