"""Reading the structured reply while it is written: whatever the cuts between pieces, the
streamed text is the reply exactly as a JSON parser reads it, and the fields before it are
known before any of it."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from baton_ai_responder.replyjson import ReplyReader

TRICKY = [
    "Plain words.",
    'Quotes "inside", a backslash \\ and a slash /.',
    "Lines\nand\ttabs\r\n",
    "Accents: déjà vu, naïve; CJK: 返品; emoji: 😀👍🏽 and a flag 🇩🇪.",
    "Control-ish: \b\f and NUL-free.",
    "",
]


def reply_doc(reply: str, *, ascii_only: bool, extra: dict[str, Any] | None = None) -> str:
    fields: dict[str, Any] = {
        "confidence": 0.92,
        "requires_human": False,
        "reason": 'a "reason" \\ with \u00e9scapes',
        **(extra or {}),
        "reply": reply,
    }
    return json.dumps(fields, ensure_ascii=ascii_only)


def cuts(text: str, rng: random.Random) -> list[str]:
    """``text`` cut at random places into pieces of 1 to 7 characters."""
    out, at = [], 0
    while at < len(text):
        size = rng.randint(1, 7)
        out.append(text[at : at + size])
        at += size
    return out


def read(pieces: list[str]) -> tuple[ReplyReader, str, list[bool]]:
    """The reader after every piece, the text it streamed, and for each non-empty output
    whether the fields before the reply were known by then."""
    reader = ReplyReader()
    streamed, known_before = [], []
    for piece in pieces:
        out = reader.feed(piece)
        if out:
            known_before.append({"confidence", "requires_human", "reason"} <= set(reader.fields))
        streamed.append(out)
    return reader, "".join(streamed), known_before


@pytest.mark.parametrize("reply", TRICKY)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_any_cut_streams_the_reply_as_json_reads_it(reply: str, ascii_only: bool) -> None:
    doc = reply_doc(reply, ascii_only=ascii_only, extra={"tags": ["a", {"b": '}]\\"'}]})
    rng = random.Random(f"{reply}{ascii_only}")
    for pieces in [list(doc), [doc], *(cuts(doc, rng) for _ in range(200))]:
        reader, streamed, known_before = read(pieces)
        assert not reader.broken
        assert reader.done
        assert streamed == reply
        assert all(known_before)
        assert reader.fields == {k: v for k, v in json.loads(doc).items() if k != "reply"}


def test_every_escape_cut_at_every_place() -> None:
    # Each escape of a surrogate pair is 12 characters; cut anywhere, it is one character.
    doc = '{"confidence": 1, "reply": "a\\ud83d\\ude00b\\u00e9\\n\\"c"}'
    for cut in range(1, len(doc)):
        reader, streamed, _ = read([doc[:cut], doc[cut:]])
        assert streamed == 'a😀bé\n"c', cut
        assert reader.fields == {"confidence": 1}


def test_the_reply_starts_only_after_the_fields_written_before_it() -> None:
    reader = ReplyReader()
    assert reader.feed('{"confidence": 0.8') == ""
    assert reader.fields == {}  # the number may go on
    assert reader.feed(', "requires_human": true, "reply": "He') == "He"
    assert reader.started
    assert reader.fields == {"confidence": 0.8, "requires_human": True}
    assert reader.feed('llo", "reason": null}') == "llo"
    assert reader.fields == {"confidence": 0.8, "requires_human": True, "reason": None}
    assert reader.done


def test_a_reply_written_first_starts_before_any_field() -> None:
    reader = ReplyReader()
    assert reader.feed('{"reply": "Hi", "confidence": 0.9}') == "Hi"
    assert reader.started
    assert reader.fields == {"confidence": 0.9}


@pytest.mark.parametrize(
    "doc",
    [
        "Sure! Here you go.",  # not JSON at all
        '["reply"]',
        '{"reply": "a\\ud83d b"}',  # a lone surrogate, which the whole parse refuses too
        '{"reply": "a\\udc00"}',
        '{"reply": "a\\x"}',
        '{"reply": "line\nbreak"}',  # a raw control character
        '{"reply": "one", "reply": "two"}',
        '{"confidence": tru, "reply": "x"}',
        '{"confidence": 1,, "reply": "x"}',
    ],
)
def test_what_is_not_such_an_object_stops_the_reader(doc: str) -> None:
    reader = ReplyReader()
    streamed = "".join(reader.feed(char) for char in doc)
    assert reader.broken
    assert reader.feed('"more"') == ""
    # Whatever it streamed before it stopped is a prefix of what it was given.
    assert len(streamed) < len(doc)
