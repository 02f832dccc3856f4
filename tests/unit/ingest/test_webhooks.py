"""The webhooks' pure parts: URLs and event types an admin may set, the signature, the
backoff between tries, and the order due deliveries are taken in."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from baton_contracts import MessageSent, encode
from baton_ingest.webhooks import (
    InvalidWebhookError,
    backoff,
    check_events,
    check_url,
    sign,
    signed_headers,
    take_turns,
)
from baton_ingest.webhooks.domain import new_delivery, new_secret, next_try, succeeded
from baton_ingest.webhooks.metrics import MAX_LABELLED_GATEWAYS, waiting
from tests.support.webhooks_memory import MemoryWebhooks

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "https://gateway.example.com/baton",
        "https://gateway.example.com:8443/hooks?source=baton",
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]:8080/hook",
    ],
)
def test_https_urls_and_http_to_loopback_are_accepted(url: str) -> None:
    assert check_url(f" {url} ", allow_http=False) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://gateway.example.com/hook", "https"),
        ("http://10.0.0.1/hook", "https"),
        ("ftp://gateway.example.com/hook", "https"),
        ("gateway.example.com/hook", "https"),
        ("https:///hook", "https"),
        ("https://user:pass@gateway.example.com/hook", "credentials"),
        ("https://gateway.example.com/hook#part", "fragment"),
        ("https://gateway.example.com:99999/hook", "valid"),
        ("https://gateway.example.com/a b", "spaces"),
        ("https://gateway.example.com/\x00", "printable"),
        ("https://gatéway.example.com/", "printable"),
        ("https://example.com/" + "a" * 2000, "printable"),
        ("", "printable"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(InvalidWebhookError, match=why):
        check_url(url, allow_http=False)


def test_a_development_setting_allows_http_anywhere() -> None:
    assert check_url("http://gateway.internal/hook", allow_http=True)


def test_event_types_are_the_known_ones_in_a_fixed_order() -> None:
    assert check_events(["thread.assigned", "message.sent", "message.sent"]) == (
        "message.sent",
        "thread.assigned",
    )
    assert check_events(["message.delta", "message.sent"]) == ("message.sent", "message.delta")
    with pytest.raises(InvalidWebhookError, match=r"message\.received"):
        check_events(["message.received"])
    with pytest.raises(InvalidWebhookError, match="at least one"):
        check_events([])


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body() -> None:
    body = b'{"type":"message.sent"}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_x", 1700000000, body) == expected


def test_a_try_carries_the_event_as_published_and_its_signed_headers() -> None:
    event = sent_event()
    delivery = new_delivery("gw-1", event, now=NOW)
    secret = new_secret()

    headers = signed_headers(delivery, secret=secret, timestamp=1700000000)

    assert delivery.body == encode(event)
    assert headers["Baton-Event-Id"] == str(event.event_id)
    assert headers["Baton-Event-Type"] == "message.sent"
    assert headers["Baton-Timestamp"] == "1700000000"
    assert headers["Baton-Signature"] == sign(secret, 1700000000, delivery.body)
    assert headers["Content-Type"] == "application/json"
    assert delivery.delivery_id == f"gw-1:{event.event_id}"


def test_secrets_are_new_each_time_and_never_in_a_repr() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(first) == len("whsec_") + 64


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 2.5, 5.0), (2, 5.0, 10.0), (3, 10.0, 20.0), (10, 30.0, 60.0), (1000, 30.0, 60.0)],
)
def test_backoff_doubles_up_to_its_cap_and_jitters_down_by_up_to_half(
    attempt: int, low: float, high: float
) -> None:
    def at(r: float) -> float:
        return backoff(attempt, initial_s=5.0, max_s=60.0, rand=lambda: r)

    assert at(0.0) == pytest.approx(low)
    assert at(0.999999) == pytest.approx(high, rel=1e-5)
    assert low < at(0.5) < high


def test_the_last_try_leaves_a_dead_letter() -> None:
    def after(attempts: int) -> datetime | None:
        return next_try(
            attempts, max_attempts=3, now=NOW, initial_s=1.0, max_s=10.0, rand=lambda: 1.0
        )

    assert after(1) == NOW + timedelta(seconds=1)
    assert after(2) == NOW + timedelta(seconds=2)
    assert after(3) is None


@pytest.mark.parametrize(("status", "done"), [(200, True), (204, True), (299, True)])
def test_a_2xx_finishes_a_delivery(status: int, done: bool) -> None:
    assert succeeded(status) is done


@pytest.mark.parametrize("status", [100, 301, 302, 400, 404, 410, 429, 500, 503])
def test_anything_else_is_tried_again(status: int) -> None:
    assert not succeeded(status)


def test_gateways_take_turns_so_a_backlog_goes_after_everyone_else() -> None:
    due = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1"], "c": ["c1", "c2"]}
    free = {"a": 4, "b": 4, "c": 4}

    assert take_turns(due, free=free, total=100) == ["a1", "b1", "c1", "a2", "c2", "a3", "a4"]
    assert take_turns(due, free=free, total=3) == ["a1", "b1", "c1"]


def test_the_first_turn_moves_round_so_no_gateway_is_always_first() -> None:
    due = {"a": ["a1", "a2"], "b": ["b1", "b2"]}
    free = {"a": 2, "b": 2}

    assert take_turns(due, free=free, total=1, start=0) == ["a1"]
    assert take_turns(due, free=free, total=1, start=1) == ["b1"]
    assert take_turns(due, free=free, total=1, start=2) == ["a1"]


def test_a_gateway_gets_no_more_than_its_free_slots() -> None:
    due = {"slow": ["s1", "s2", "s3"], "fast": ["f1", "f2"]}

    picked = take_turns(due, free={"slow": 0, "fast": 1}, total=10)

    assert picked == ["f1"]
    assert take_turns({}, free={}, total=10) == []
    assert take_turns(due, free={"slow": 1, "fast": 1}, total=0) == []


async def test_the_gauge_names_the_first_webhooks_and_counts_the_rest_as_other() -> None:
    store = MemoryWebhooks()
    for n in range(MAX_LABELLED_GATEWAYS + 2):
        await store.put(
            f"gw-{n:03d}",
            url="https://example.com",
            events=["message.sent"],
            secret="s",
            now=NOW + timedelta(seconds=n),
        )
    late = f"gw-{MAX_LABELLED_GATEWAYS + 1:03d}"

    values = waiting({("gw-000", "pending"): 2, (late, "dead"): 1}, await store.all())

    assert values[("pending", "gw-000")] == 2
    assert values[("dead", "gw-000")] == 0
    assert values[("dead", "other")] == 1
    assert ("dead", late) not in values
    assert len(values) == 2 * (MAX_LABELLED_GATEWAYS + 1)


def sent_event() -> MessageSent:
    return MessageSent(
        correlation_id=uuid.uuid4(),
        thread_id="t-1",
        message_id=uuid.uuid4(),
        text="We open at 9 am.",
        agent_name="Baton",
        provider="openai",
    )
