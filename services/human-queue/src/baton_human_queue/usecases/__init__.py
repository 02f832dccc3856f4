"""The queue's use cases, one area a module: opening tickets, claims, what the holder does,
the sweep, reading, the users' ratings, and reports."""

from ._common import QueueConfig
from .actions import ActionRecords
from .assignment import Assigner
from .claims import Claims
from .holder import HolderActions, Reply
from .intake import Intake
from .ratings import Ratings
from .reading import Reading, TicketContext
from .reports import Reports
from .staff import Staff
from .summaries import Summaries
from .sweep import Sweep

__all__ = [
    "ActionRecords",
    "Assigner",
    "Claims",
    "HolderActions",
    "Intake",
    "QueueConfig",
    "Ratings",
    "Reading",
    "Reply",
    "Reports",
    "Staff",
    "Summaries",
    "Sweep",
    "TicketContext",
]
