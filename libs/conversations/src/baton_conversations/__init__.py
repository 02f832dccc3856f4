"""Baton's conversation core: the one writer of threads and messages.

Every service reads and writes a conversation through :class:`ConversationStore`
(:class:`Conversations` in MongoDB): threads are opened, messages take their place at the
end of a thread together with the events that announce them, drafts are settled, a
thread's owner changes together with its ``thread.assigned`` event, and a thread remembers
the latest time a person resolved it and takes one rating of each resolution, with its
``thread.rated``. The ownership log (:class:`OwnershipLog`) answers who owned a thread, and
when; the escalation budget (:class:`Escalations`) how often a conversation may still be
handed to people; business hours (:class:`BusinessHours`) when people are there to take it.
"""

from ._audit import Ownership, OwnershipLog, on_thread_assigned
from ._escalations import EscalationBudget, Escalations, EscalationSettings, Refused
from ._hours import ALWAYS_OPEN, BusinessHours, BusinessHoursSettings, OpeningHours, OutOfHours
from ._model import (
    Appended,
    Because,
    DraftStatus,
    Message,
    RatedVia,
    Role,
    Thread,
    ThreadRating,
    ThreadResolution,
    UnknownThreadError,
    rating_event,
)
from ._mongo import Conversations
from ._store import Announce, ConversationStore

__all__ = [
    "ALWAYS_OPEN",
    "Announce",
    "Appended",
    "Because",
    "BusinessHours",
    "BusinessHoursSettings",
    "ConversationStore",
    "Conversations",
    "DraftStatus",
    "EscalationBudget",
    "EscalationSettings",
    "Escalations",
    "Message",
    "OpeningHours",
    "OutOfHours",
    "Ownership",
    "OwnershipLog",
    "RatedVia",
    "Refused",
    "Role",
    "Thread",
    "ThreadRating",
    "ThreadResolution",
    "UnknownThreadError",
    "on_thread_assigned",
    "rating_event",
]
