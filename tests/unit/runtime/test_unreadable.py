"""A reader leaves out the documents it cannot read, and reports each of them once."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from baton_runtime import Document, Unreadable


def number(doc: Document) -> int:
    return int(doc["n"])


def counted(reader: str) -> float:
    labels = {"reader": reader, "kind": "number"}
    return REGISTRY.get_sample_value("baton_unreadable_documents_total", labels) or 0.0


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]


def test_what_it_cannot_read_is_left_out_and_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreadable = Unreadable(reader="test once", kind="number")
    docs: list[Document] = [
        {"_id": "a", "n": 1},
        {"_id": "!b"},
        {"_id": "c", "n": "x"},
        {"_id": "d", "n": 4},
    ]

    assert unreadable.parse(docs, number) == [1, 4]
    assert unreadable.parse(docs, number) == [1, 4]  # the next round

    assert errors(caplog) == [
        "test once: skipping '!b', not a number it can read (reported once)",
        "test once: skipping 'c', not a number it can read (reported once)",
    ]
    assert counted("test once") == 2
    assert unreadable.count == 2


def test_a_mended_document_is_read_and_reported_again_if_it_breaks_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreadable = Unreadable(reader="test mended", kind="number")

    assert unreadable.parse([{"_id": "b"}], number) == []
    assert unreadable.parse([{"_id": "b", "n": 2}], number) == [2]
    assert unreadable.count == 0
    assert unreadable.parse([{"_id": "b"}], number) == []

    assert len(errors(caplog)) == 2
    assert counted("test mended") == 2


def test_an_id_that_is_a_document_is_reported_too(caplog: pytest.LogCaptureFixture) -> None:
    unreadable = Unreadable(reader="test compound", kind="number")
    doc = {"_id": {"thread": "t", "seq": 1}}

    assert unreadable.parse([doc, doc], number) == []

    assert errors(caplog) == [
        "test compound: skipping {'thread': 't', 'seq': 1}, not a number it can read "
        "(reported once)"
    ]
