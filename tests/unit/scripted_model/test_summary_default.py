"""The built-in answer to a ticket summary (``ticket_summary``): an instance of the requested
schema made from the transcript, whose mood follows the customer's words."""

from __future__ import annotations

import json
from typing import Any

import pytest

from baton_ai_responder.summary import SUMMARY_FORMAT
from baton_contracts import TicketSummary
from baton_scripted_model import Script
from baton_scripted_model.conversation import Text

from .conftest import conversation, user


def summarised(transcript: str) -> tuple[str, dict[str, Any]]:
    chat = conversation(
        {"role": "system", "content": "Summarise."},
        user(transcript),
        response_format=SUMMARY_FORMAT,
    )
    decision = Script(new_call_id=lambda: "call_x").decide(chat)
    assert isinstance(decision.outcome, Text)
    return decision.rule, json.loads(decision.outcome.content)


def test_the_summary_fits_the_schema_and_tells_what_was_said() -> None:
    rule, content = summarised(
        "The AI assistant asked a colleague a question. Why: a fact\n\nTranscript:\n"
        "Customer: Where is order 7?\n"
        "AI assistant asked a colleague: Did order 7 ship?\n"
        "Colleague Alex answered: Monday.\n"
        "Customer: Thanks, and can I change the address?"
    )
    assert rule == "default:summary"
    summary = TicketSummary.model_validate(content)
    assert summary.issue == "The customer says: Thanks, and can I change the address?"
    assert summary.tried == (
        "AI assistant asked a colleague: Did order 7 ship? / Colleague Alex answered: Monday."
    )
    assert summary.mood == "positive"


@pytest.mark.parametrize(
    ("said", "mood"),
    [
        ("This is unacceptable, I want my money!", "angry"),
        ("I am still waiting for my parcel", "frustrated"),
        ("Where is my order?", "neutral"),
    ],
)
def test_the_mood_follows_the_customers_words(said: str, mood: str) -> None:
    _, content = summarised(f"Transcript:\nCustomer: {said}")
    assert content["mood"] == mood
    assert content["tried"] == ""
