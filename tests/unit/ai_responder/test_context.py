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


def test_batons_notices_to_the_user_are_not_the_models_words() -> None:
    """A "let me check with a colleague" notice lands between the AI's ask_human call and
    its result: left in, it would split the call from its result, which the API refuses."""
    call = Message(
        message_id=uuid.uuid4(),
        thread_id="t",
        role="assistant",
        content=[{"type": "tool-call", "tool_call_id": "c1", "tool_name": "ask_human", "args": {}}],
    )
    checking = Message(
        message_id=uuid.uuid4(),
        thread_id="t",
        role="assistant",
        content="Let me check that with a colleague.",
        agent_name="Baton",
        provider="baton",
        metadata={"system_notice": True, "notice": "checking"},
    )
    result = Message(
        message_id=uuid.uuid4(),
        thread_id="t",
        role="tool",
        content=[
            {"type": "tool-result", "tool_call_id": "c1", "tool_name": "ask_human", "result": "yes"}
        ],
    )

    sent = build_context("system", [msg("user", "Did order 7 ship?"), call, checking, result])

    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert all("colleague" not in str(m.get("content")) for m in sent)
