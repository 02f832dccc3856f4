from __future__ import annotations

from prometheus_client import Counter

KNOWN_CHANNELS = frozenset({"web", "whatsapp", "email", "sms", "slack", "api"})

MESSAGES_RECEIVED = Counter(
    "baton_messages_received_total",
    "User messages stored, by channel (unknown channels count as `other`) and source.",
    ["channel", "source"],
)


def channel_label(channel: str | None) -> str:
    if channel is None:
        return "none"
    return channel if channel in KNOWN_CHANNELS else "other"
