"""Thread streams: a thread's replies pushed to its gateway as server-sent events, the AI's
while it writes them (``message.delta``) and every message whole (``message.sent``).

- :mod:`.feed` reads both topics on every instance, for the streams open there;
- :mod:`.hub` fans each event out to its thread's streams, each with bounded room;
- :mod:`~baton_ingest.api.stream` serves ``GET /v1/threads/{thread_id}/stream``.
"""

from .feed import LiveFeed
from .hub import KEEP_ALIVE, Hub, Item, Stream, TooManyStreamsError, delta_item, message_item
from .service import Live
from .settings import LiveSettings

__all__ = [
    "KEEP_ALIVE",
    "Hub",
    "Item",
    "Live",
    "LiveFeed",
    "LiveSettings",
    "Stream",
    "TooManyStreamsError",
    "delta_item",
    "message_item",
]
