"""The queue's use cases, one area a module: opening tickets, claims, what the holder does,
the sweep, reading, and reports."""

from ._common import QueueConfig
from .claims import Claims
from .holder import HolderActions, Reply
from .intake import Intake
from .reading import Reading, TicketContext
from .reports import Reports
from .sweep import Sweep

__all__ = [
    "Claims",
    "HolderActions",
    "Intake",
    "QueueConfig",
    "Reading",
    "Reply",
    "Reports",
    "Sweep",
    "TicketContext",
]
