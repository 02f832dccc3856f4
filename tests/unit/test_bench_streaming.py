"""The bench's streaming figures: time to the first delta against time to the whole reply,
and whether each reply's deltas make up its text (nothing is started)."""

from __future__ import annotations

import uuid

from baton_bench import PHASES, phases
from baton_bench.streaming import Heard, StreamingModel, streaming_figures
from baton_contracts import Event, MessageDelta, MessageSent, MessageSubmitted
from baton_testkit import Seen

CAUSE = MessageSubmitted.first(thread_id="t-1", text="hi")


def seen(event: Event, at: float) -> Seen:
    return Seen("topic", b"t-1", b"", {}, event, at, at)


def delta(asked: uuid.UUID, sequence: int, text: str) -> MessageDelta:
    return MessageDelta.caused_by(
        CAUSE,
        message_id=uuid.uuid5(asked, "reply"),
        in_reply_to=asked,
        sequence=sequence,
        text=text,
        agent_name="Baton AI",
    )


def sent(asked: uuid.UUID, text: str) -> MessageSent:
    return MessageSent.caused_by(
        CAUSE,
        message_id=uuid.uuid5(asked, "reply"),
        in_reply_to=asked,
        text=text,
        agent_name="Baton AI",
        provider="openai",
    )


def test_first_delta_and_whole_reply_are_timed_from_the_accept() -> None:
    heard = Heard()
    streamed, interrupted, whole, lost = (uuid.uuid4() for _ in range(4))
    for asked in (streamed, interrupted, whole, lost):
        heard.accepted_at[asked] = 10.0
    for event, at in [
        (delta(streamed, 0, "Hel"), 10.5),
        (delta(streamed, 1, "lo"), 10.7),
        (sent(streamed, "Hello"), 11.5),
        # An attempt that broke off, and the next from sequence 0.
        (delta(interrupted, 0, "Wro"), 10.4),
        (delta(interrupted, 0, "Rig"), 10.9),
        (delta(interrupted, 1, "ht"), 11.0),
        (sent(interrupted, "Right"), 11.1),
        (sent(whole, "Held whole"), 12.0),
    ]:
        heard.note(seen(event, at))

    figures = streaming_figures(heard)

    assert (figures["accepted"], figures["replied"], figures["streamed"]) == (4, 3, 2)
    assert figures["reassembled"] == 2
    assert figures["time_to_first_delta_ms"]["max"] == 500.0
    assert figures["time_to_whole_reply_ms"]["max"] == 2000.0
    assert figures["first_delta_ahead_of_whole_ms"]["max"] == 1000.0
    assert figures["deltas_per_reply"]["max"] == 3


def test_a_reply_whose_deltas_miss_a_piece_is_not_reassembled() -> None:
    heard = Heard()
    asked = uuid.uuid4()
    heard.accepted_at[asked] = 0.0
    for event in (delta(asked, 0, "Hel"), delta(asked, 2, "!"), sent(asked, "Hello!")):
        heard.note(seen(event, 1.0))
    assert streaming_figures(heard)["reassembled"] == 0


def test_the_phase_is_chosen_by_name_and_waits_past_a_slow_reply() -> None:
    assert "streaming" in PHASES
    assert phases("streaming") == frozenset({"streaming"})
    model = StreamingModel(
        tokens_per_s=60, first_token_median_ms=500, first_token_p99_ms=2500, seed=1
    )
    assert model.gap_s() > 600 / 4 / 60  # longer than writing the reply alone
    assert model.env()["SCRIPTED_MODEL_STREAM_TOKENS_PER_S"] == "60"
