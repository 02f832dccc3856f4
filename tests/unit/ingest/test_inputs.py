"""What gateways may send: text, identifiers and metadata."""

from __future__ import annotations

import pytest

from baton_ingest.domain import Submission
from baton_ingest.inputs import (
    EmptyTextError,
    InvalidDepartmentError,
    InvalidIdError,
    InvalidMetadataError,
    InvalidTextError,
    TextTooLongError,
    check_department,
    check_idempotency_key,
    check_metadata,
    check_submission,
    check_text,
    check_thread_id,
    check_user_id,
)


def test_text_limits() -> None:
    check_text("hi", max_length=2)
    with pytest.raises(EmptyTextError):
        check_text(" \n ", max_length=10)
    with pytest.raises(TextTooLongError, match="has 3 characters; the limit is 2"):
        check_text("abc", max_length=2)


@pytest.mark.parametrize(
    "text",
    ["line one\nline two", "a\ttab", "windows\r\nline", "emoji 👍🏽 and ZWJ 👩‍💻", "ünïcödé"],
)
def test_text_keeps_line_breaks_tabs_and_any_real_character(text: str) -> None:
    check_text(text, max_length=100)


@pytest.mark.parametrize(
    "text", ["nul \x00", "bell \x07", "escape \x1b[31m", "del \x7f", "c1 \x85"]
)
def test_text_with_control_characters_is_refused(text: str) -> None:
    with pytest.raises(InvalidTextError, match="control characters"):
        check_text(text, max_length=100)


@pytest.mark.parametrize("text", ["lone \ud800", "lone \udfff low", "\udc00"])
def test_text_with_a_lone_surrogate_is_refused_without_repeating_it(text: str) -> None:
    with pytest.raises(InvalidTextError) as refused:
        check_text(text, max_length=100)
    refused.value.message.encode()  # the refusal itself can be sent


@pytest.mark.parametrize(
    "user_id", ["u1", "alice@example.com", "+4915112345678", "auth0|5f3a", "org:42.user_7", "A=b"]
)
def test_usual_user_ids_pass(user_id: str) -> None:
    check_user_id(user_id)


@pytest.mark.parametrize(
    "user_id", ["", "x" * 201, "with space", "nul\x00", "semi;colon", "slash/x", "ünï", "$where"]
)
def test_odd_user_ids_are_refused(user_id: str) -> None:
    with pytest.raises(InvalidIdError, match="user_id must be"):
        check_user_id(user_id)


def test_thread_ids_and_idempotency_keys_are_bounded_and_plain() -> None:
    check_thread_id("3f2a9c" * 5)
    check_thread_id("late-1234")
    check_idempotency_key("a+b/c==")
    for bad in ("", "x" * 129, "a b", "a/b", "\x00"):
        with pytest.raises(InvalidIdError, match="thread id"):
            check_thread_id(bad)
    for bad in ("", "x" * 201, "a b", "é"):
        with pytest.raises(InvalidIdError, match="idempotency key"):
            check_idempotency_key(bad)


def test_departments_follow_the_agents_rule() -> None:
    check_department("Billing EU")
    for bad in ("", " leading", "x" * 101, "a\x00", "a/b"):
        with pytest.raises(InvalidDepartmentError):
            check_department(bad)


def test_usual_metadata_passes() -> None:
    check_metadata({"tier": "vip", "locale": "de-DE", "page_url": "https://shop.example/x?y=1"})
    check_metadata({f"k{i}": "v" for i in range(32)})


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({f"k{i}": "v" for i in range(33)}, "33 keys; the limit is 32"),
        ({"nul\x00key": "v"}, "metadata keys must be"),
        ({"": "v"}, "metadata keys must be"),
        ({"$set": "v"}, "metadata keys must be"),
        ({"a.b": "v"}, "metadata keys must be"),
        ({"k" * 65: "v"}, "metadata keys must be"),
        ({"\ud800": "v"}, "metadata keys must be"),
        ({"note": "x" * 1001}, "metadata.note has 1001 characters; the limit is 1000"),
        ({"note": "x" * 17_000_000}, "the limit is 1000"),
        ({"note": "a\x00b"}, "metadata.note may not contain control characters"),
        ({"note": "a\nb"}, "metadata.note may not contain control characters"),
        ({"note": "\udfff"}, "unpaired surrogates"),
        ({"tier": "x" * 60}, "metadata.tier must be 1 to 32"),
        ({"tier": "v i p"}, "metadata.tier must be"),
        ({"tier": ""}, "metadata.tier must be"),
    ],
)
def test_bad_metadata_is_refused(metadata: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidMetadataError, match=fragment.replace(".", r"\.")) as refused:
        check_metadata(metadata)
    refused.value.message.encode()


def test_a_submission_is_checked_whole_and_may_not_claim_what_the_message_records() -> None:
    check_submission(
        Submission(thread_id="t1", text="hi", user_id="u1", idempotency_key="k1"), max_length=10
    )
    with pytest.raises(InvalidIdError, match="thread id"):
        check_submission(Submission(thread_id="t 1", text="hi"), max_length=10)
    with pytest.raises(InvalidIdError, match="user_id"):
        check_submission(Submission(thread_id="t1", text="hi", user_id="a b"), max_length=10)
    with pytest.raises(InvalidIdError, match="idempotency key"):
        check_submission(
            Submission(thread_id="t1", text="hi", idempotency_key="k\x00"), max_length=10
        )
    for reserved in ("provider", "user_id"):
        with pytest.raises(InvalidMetadataError, match=f"may not set {reserved}"):
            check_submission(
                Submission(thread_id="t1", text="hi", metadata={reserved: "human"}),
                max_length=10,
            )
