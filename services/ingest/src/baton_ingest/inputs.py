"""What gateways may send: text, identifiers and metadata, checked before anything is stored.

The same rules hold over HTTP and over Kafka. A refusal names the field and the rule, never
the value: a value that cannot be encoded (a lone surrogate) must not reach the answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .domain import IngestError, Submission

MAX_METADATA_KEYS = 32
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_VALUE_LENGTH = 1000
MAX_TIER_LENGTH = 32
MAX_USER_ID_LENGTH = 200
MAX_THREAD_ID_LENGTH = 128
MAX_IDEMPOTENCY_KEY_LENGTH = 200
MAX_COMMENT_LENGTH = 2000
"""A rating's comment: what ``thread.rated`` carries."""

# Control characters (C0, DEL, C1) and surrogates, which only a broken encoder produces
# alone and which BSON cannot store. Text may keep its line breaks and tabs.
_CONTROL = "\x00-\x1f\x7f-\x9f"
_SURROGATE = "\ud800-\udfff"
_BAD_IN_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_SURROGATE}]")
_BAD_IN_VALUE = re.compile(f"[{_CONTROL}{_SURROGATE}]")

USER_ID = re.compile(rf"[A-Za-z0-9._:@+=|-]{{1,{MAX_USER_ID_LENGTH}}}")
THREAD_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_THREAD_ID_LENGTH}}}")
IDEMPOTENCY_KEY = re.compile(rf"[A-Za-z0-9._:+/=-]{{1,{MAX_IDEMPOTENCY_KEY_LENGTH}}}")
# Letters first, and no '.' or '$': MongoDB gives both a meaning in field names.
METADATA_KEY = re.compile(rf"[A-Za-z][A-Za-z0-9_-]{{0,{MAX_METADATA_KEY_LENGTH - 1}}}")
TIER = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TIER_LENGTH}}}")
CHANNEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}")
# The human queue's rule for the departments agents serve, so that the two can match.
DEPARTMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")

RESERVED_MESSAGE_METADATA = frozenset({"provider", "user_id"})
"""Keys the stored message sets itself; a message's metadata may not claim them."""


def schema_pattern(pattern: re.Pattern[str]) -> str:
    """``pattern`` as the OpenAPI document states it (anchored, where Python's checks use
    ``fullmatch``)."""
    return f"^{pattern.pattern}$"


TEXT_SCHEMA_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
VALUE_SCHEMA_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
"""What the OpenAPI document says of text and metadata values (it cannot say "no unpaired
surrogates", which ingest checks too)."""


class InvalidTextError(IngestError):
    code = "invalid_text"


class InvalidIdError(IngestError):
    code = "invalid_id"


class InvalidMetadataError(IngestError):
    code = "invalid_metadata"


class InvalidChannelError(IngestError):
    code = "invalid_channel"


class InvalidDepartmentError(IngestError):
    code = "invalid_department"


class InvalidScoreError(IngestError):
    code = "invalid_score"


class InvalidCommentError(IngestError):
    code = "invalid_comment"


class TextTooLongError(IngestError):
    status = 413
    code = "text_too_long"


class EmptyTextError(IngestError):
    code = "empty_text"


def check_text(text: str, *, max_length: int) -> None:
    if len(text) > max_length:
        raise TextTooLongError(f"text has {len(text)} characters; the limit is {max_length}")
    if _BAD_IN_TEXT.search(text):
        raise InvalidTextError(
            "text may not contain control characters (other than line breaks and tabs) or "
            "unpaired surrogates"
        )
    if not text.strip():
        raise EmptyTextError("text is empty")


def check_score(score: int) -> None:
    if not 1 <= score <= 5:
        raise InvalidScoreError(f"score must be 1 to 5, not {score}")


def check_comment(comment: str) -> None:
    """A rating's comment: up to 2000 characters, the rules of text otherwise (blank is
    no comment)."""
    if len(comment) > MAX_COMMENT_LENGTH:
        raise InvalidCommentError(
            f"comment has {len(comment)} characters; the limit is {MAX_COMMENT_LENGTH}"
        )
    if _BAD_IN_TEXT.search(comment):
        raise InvalidCommentError(
            "comment may not contain control characters (other than line breaks and tabs) "
            "or unpaired surrogates"
        )


def _check_id(value: str, pattern: re.Pattern[str], what: str, allowed: str) -> None:
    if not pattern.fullmatch(value):
        raise InvalidIdError(f"{what} must be {allowed}")


def check_user_id(user_id: str) -> None:
    _check_id(user_id, USER_ID, "user_id", "1 to 200 ASCII letters, digits or ._:@+=|-")


def check_thread_id(thread_id: str) -> None:
    _check_id(thread_id, THREAD_ID, "the thread id", "1 to 128 ASCII letters, digits or ._:-")


def check_idempotency_key(key: str) -> None:
    _check_id(
        key, IDEMPOTENCY_KEY, "the idempotency key", "1 to 200 ASCII letters, digits or ._:+/=-"
    )


def check_channel(channel: str) -> None:
    if not CHANNEL.fullmatch(channel):
        raise InvalidChannelError("channel must be 1 to 50 ASCII letters, digits or ._-")


def check_department(department: str) -> None:
    if not DEPARTMENT.fullmatch(department):
        raise InvalidDepartmentError(
            "department must be 1 to 100 ASCII letters, digits, spaces or ._-"
        )


def check_metadata(metadata: Mapping[str, str]) -> None:
    """At most 32 keys, each an identifier of up to 64 characters; values up to 1000
    characters without control characters; ``tier``, which routing reads, a short
    identifier (events carry it, and they allow 50 characters)."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidMetadataError(
            f"metadata has {len(metadata)} keys; the limit is {MAX_METADATA_KEYS}"
        )
    for key, value in metadata.items():
        if not METADATA_KEY.fullmatch(key):
            raise InvalidMetadataError(
                f"metadata keys must be a letter then up to {MAX_METADATA_KEY_LENGTH - 1} "
                "ASCII letters, digits, '_' or '-'"
            )
        if len(value) > MAX_METADATA_VALUE_LENGTH:
            raise InvalidMetadataError(
                f"metadata.{key} has {len(value)} characters; the limit is "
                f"{MAX_METADATA_VALUE_LENGTH}"
            )
        if _BAD_IN_VALUE.search(value):
            raise InvalidMetadataError(
                f"metadata.{key} may not contain control characters or unpaired surrogates"
            )
    tier = metadata.get("tier")
    if tier is not None and not TIER.fullmatch(tier):
        raise InvalidMetadataError(
            f"metadata.tier must be 1 to {MAX_TIER_LENGTH} ASCII letters, digits, '_' or '-'"
        )


def check_message_metadata(metadata: Mapping[str, str]) -> None:
    check_metadata(metadata)
    reserved = sorted(RESERVED_MESSAGE_METADATA & metadata.keys())
    if reserved:
        raise InvalidMetadataError(
            f"a message's metadata may not set {', '.join(reserved)}: the message records it"
        )


def check_submission(submission: Submission, *, max_length: int) -> None:
    check_thread_id(submission.thread_id)
    check_text(submission.text, max_length=max_length)
    if submission.user_id is not None:
        check_user_id(submission.user_id)
    if submission.idempotency_key is not None:
        check_idempotency_key(submission.idempotency_key)
    check_message_metadata(submission.metadata)
