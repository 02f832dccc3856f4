"""Gateways' keys and what a gateway may do, without I/O."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from baton_conversations import Thread, UnknownThreadError
from baton_ingest.gateways import (
    KEY_PREFIX,
    ChannelNotAllowedError,
    ChannelRequiredError,
    Gateway,
    IdentityRequiredError,
    InvalidGatewayError,
    InvalidIdentityError,
    RoutingNotAllowedError,
    channel_for,
    check_gateway,
    check_identity,
    check_routing,
    hash_key,
    identity_hash,
    looks_like_key,
    new_identity_secret,
    new_key,
    require_own,
)
from baton_ingest.inputs import InvalidChannelError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WEB = Gateway(
    gateway_id="gw-web",
    name="web widget",
    channels=("web",),
    may_set_routing=False,
    require_identity=False,
    identity_secret="s3cret",
    active=True,
    created_at=NOW,
    updated_at=NOW,
)


def _thread(gateway_id: str | None) -> Thread:
    return Thread(
        "t1", "u1", "web", None, None, "ai", None, "open", {}, NOW, NOW, gateway_id=gateway_id
    )


def test_keys_carry_256_random_bits_and_are_stored_as_their_sha256() -> None:
    key = new_key()
    assert key.startswith(KEY_PREFIX)
    assert len(key) == len(KEY_PREFIX) + 43  # 32 bytes in URL-safe base64
    assert new_key() != key
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key not in hash_key(key)
    assert looks_like_key(key)
    assert not looks_like_key(hash_key(key))
    assert not looks_like_key(KEY_PREFIX + "x" * 200)


def test_the_identity_hash_is_the_hmac_sha256_of_the_user_id() -> None:
    # The value a gateway's backend computes with any HMAC library.
    expected = hmac.new(b"s3cret", b"alice@example.com", hashlib.sha256).hexdigest()
    assert identity_hash("s3cret", "alice@example.com") == expected
    assert len(new_identity_secret()) == 64


def test_a_gateway_that_requires_identity_needs_the_users_hash() -> None:
    strict = dataclasses.replace(WEB, require_identity=True)
    check_identity(WEB, "u1", None)  # not required
    check_identity(strict, "u1", identity_hash("s3cret", "u1"))
    check_identity(strict, "u1", identity_hash("s3cret", "u1").upper())
    with pytest.raises(IdentityRequiredError, match="send user_hash"):
        check_identity(strict, "u1", None)
    for wrong in (
        identity_hash("s3cret", "u2"),
        identity_hash("other", "u1"),
        "",
        "zz" * 32,
        "\ud800" * 64,
    ):
        with pytest.raises(InvalidIdentityError, match="does not match"):
            check_identity(strict, "u1", wrong)


def test_a_thread_gets_a_channel_of_the_gateways_key() -> None:
    both = dataclasses.replace(WEB, channels=("web", "email"))
    anything = dataclasses.replace(WEB, channels=("*",))
    assert channel_for(WEB, None) == "web"
    assert channel_for(WEB, "web") == "web"
    assert channel_for(both, "email") == "email"
    assert channel_for(anything, "whatsapp") == "whatsapp"
    assert channel_for(anything, None) is None
    with pytest.raises(ChannelNotAllowedError, match="the channels web only"):
        channel_for(WEB, "whatsapp")
    with pytest.raises(ChannelRequiredError, match="web, email"):
        channel_for(both, None)
    with pytest.raises(InvalidChannelError):
        channel_for(anything, "bad channel")


def test_only_a_gateway_trusted_with_routing_sets_the_tier() -> None:
    check_routing(WEB, {"locale": "de"})
    check_routing(dataclasses.replace(WEB, may_set_routing=True), {"tier": "vip"})
    with pytest.raises(RoutingNotAllowedError, match=r"may not set metadata\.tier"):
        check_routing(WEB, {"tier": "vip"})


def test_a_gateway_sees_its_own_threads_and_no_other() -> None:
    mine = _thread("gw-web")
    assert require_own(WEB, mine, "t1") is mine
    for other in (_thread("gw-other"), _thread(None), None):
        with pytest.raises(UnknownThreadError, match="thread 't1' does not exist"):
            require_own(WEB, other, "t1")


@pytest.mark.parametrize(
    ("name", "channels", "fragment"),
    [
        ("", ["web"], "name"),
        ("x" * 101, ["web"], "name"),
        ("bell\x07", ["web"], "name"),
        ("web", [], "1 to 20 channels"),
        ("web", [f"c{i}" for i in range(21)], "1 to 20 channels"),
        ("web", ["bad channel"], "channels must be"),
    ],
)
def test_invalid_gateways_are_refused(name: str, channels: list[str], fragment: str) -> None:
    with pytest.raises(InvalidGatewayError, match=fragment):
        check_gateway(name, channels)


def test_channels_are_cleaned_and_a_star_means_any() -> None:
    assert check_gateway(" web widget ", ["web", " web", "email"]) == (
        "web widget",
        ("web", "email"),
    )
    assert check_gateway("all", ["web", "*"]) == ("all", ("*",))
