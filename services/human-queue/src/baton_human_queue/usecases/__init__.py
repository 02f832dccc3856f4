"""The queue's use cases, one area a module: opening tickets, claims, what the holder does,
the sweep, reading, and reports."""

from ._common import QueueConfig
from .assignment import Assigner
from .claims import Claims
from .holder import HolderActions, Reply
from .intake import Intake
from .reading import Reading, TicketContext
from .reports import Reports
from .staff import Staff
from .sweep import Sweep

__all__ = [
    "Assigner",
    "Claims",
    "HolderActions",
    "Intake",
    "QueueConfig",
    "Reading",
    "Reply",
    "Reports",
    "Staff",
    "Sweep",
    "TicketContext",
]
