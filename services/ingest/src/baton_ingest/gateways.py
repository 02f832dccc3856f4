"""Gateways, their keys, and what a gateway may do: free of I/O.

A key is shown once, when it is made; only its SHA-256 is stored. It carries 256 random
bits, so a plain hash (no salt, no slow KDF) cannot be reversed and lets a request find its
gateway with one indexed lookup. The identity secret is different: ingest must compute
HMACs with it, so it is stored as it is, and shown only when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from baton_conversations import Thread, UnknownThreadError

from .domain import IngestError
from .inputs import CHANNEL, InvalidChannelError

KEY_PREFIX = "bgw_"  # marks Baton gateway keys, not a secret
ANY_CHANNEL = "*"
ROUTING_ATTRIBUTES = frozenset({"tier"})
"""Thread metadata that changes how a conversation is routed (``tier``: VIP rules, queue
priority); only gateways trusted with routing may set it."""
MAX_NAME_LENGTH = 100
MAX_CHANNELS = 20
_HEX_DIGEST = re.compile("[0-9A-Fa-f]{64}")


class InvalidGatewayError(IngestError):
    code = "invalid_gateway"


class ChannelNotAllowedError(IngestError):
    status = 403
    code = "channel_not_allowed"


class ChannelRequiredError(IngestError):
    code = "channel_required"


class IdentityRequiredError(IngestError):
    status = 403
    code = "identity_required"


class InvalidIdentityError(IngestError):
    status = 403
    code = "invalid_identity"


class RoutingNotAllowedError(IngestError):
    code = "routing_attribute_not_allowed"


@dataclass(frozen=True)
class Gateway:
    """A chat gateway (a web widget, a WhatsApp bridge, ...) and what its key allows."""

    gateway_id: str
    name: str
    channels: tuple[str, ...]
    """The channels its threads may have; ``("*",)``: any."""
    may_set_routing: bool
    """Whether it may set attributes that change routing (``metadata.tier``)."""
    require_identity: bool
    """Whether each end user it opens a thread for must come with ``user_hash``."""
    identity_secret: str = field(repr=False)
    active: bool
    created_at: datetime
    updated_at: datetime


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_identity_secret() -> str:
    return secrets.token_hex(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(key: str) -> bool:
    """Whether ``key`` could be a gateway key at all (anything else needs no lookup)."""
    return key.startswith(KEY_PREFIX) and len(key) < 100


def identity_hash(secret: str, user_id: str) -> str:
    """The ``user_hash`` of an end user: HMAC-SHA256 of the user id with the gateway's
    identity secret, in hex (what the gateway's backend computes and its widget sends)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def check_gateway(name: str, channels: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The name and channels of a gateway being set up, cleaned; else InvalidGatewayError."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidGatewayError(f"name must have 1 to {MAX_NAME_LENGTH} printable characters")
    return name, check_channels(channels)


def check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(c.strip() for c in channels))
    if not cleaned or len(cleaned) > MAX_CHANNELS:
        raise InvalidGatewayError(
            f"a gateway needs 1 to {MAX_CHANNELS} channels ('*' for any channel)"
        )
    if ANY_CHANNEL in cleaned:
        return (ANY_CHANNEL,)
    for channel in cleaned:
        if not CHANNEL.fullmatch(channel):
            raise InvalidGatewayError("channels must be 1 to 50 ASCII letters, digits or ._-")
    return cleaned


def channel_for(gateway: Gateway, requested: str | None) -> str | None:
    """The channel of a thread ``gateway`` opens: the one requested, if the gateway may
    use it; else the gateway's only channel; none for a gateway of any channel."""
    if requested is None:
        if ANY_CHANNEL in gateway.channels:
            return None
        if len(gateway.channels) == 1:
            return gateway.channels[0]
        raise ChannelRequiredError(
            f"this gateway has several channels; name one of: {', '.join(gateway.channels)}"
        )
    if not CHANNEL.fullmatch(requested):
        raise InvalidChannelError("channel must be 1 to 50 ASCII letters, digits or ._-")
    if ANY_CHANNEL not in gateway.channels and requested not in gateway.channels:
        raise ChannelNotAllowedError(
            f"this gateway's key may use the channels {', '.join(gateway.channels)} only"
        )
    return requested


def check_identity(gateway: Gateway, user_id: str, user_hash: str | None) -> None:
    """For a gateway that requires verified end users: ``user_hash`` must be the user's
    :func:`identity_hash`."""
    if not gateway.require_identity:
        return
    if user_hash is None:
        raise IdentityRequiredError(
            "this gateway requires verified end users: send user_hash, the HMAC-SHA256 of "
            "user_id with the gateway's identity secret"
        )
    expected = identity_hash(gateway.identity_secret, user_id)
    if not _HEX_DIGEST.fullmatch(user_hash) or not hmac.compare_digest(
        user_hash.lower().encode(), expected.encode()
    ):
        raise InvalidIdentityError("user_hash does not match user_id")


def check_routing(gateway: Gateway, metadata: Mapping[str, str]) -> None:
    """Routing attributes come only from gateways trusted with them: refused, not dropped,
    so a gateway finds out while it is being built, not from VIPs who waited."""
    if gateway.may_set_routing:
        return
    present = sorted(ROUTING_ATTRIBUTES & metadata.keys())
    if present:
        raise RoutingNotAllowedError(
            f"this gateway's key may not set metadata.{', metadata.'.join(present)}; an "
            "admin allows it with may_set_routing"
        )


def require_own(gateway: Gateway, thread: Thread | None, thread_id: str) -> Thread:
    """``thread`` if ``gateway`` opened it. Another gateway's thread is unknown to this
    one, exactly like a thread that does not exist: a 404 reveals nothing."""
    if thread is None or thread.gateway_id != gateway.gateway_id:
        raise UnknownThreadError(f"thread {thread_id!r} does not exist")
    return thread
