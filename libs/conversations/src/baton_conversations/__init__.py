"""Baton's conversation core: the one writer of threads and messages.

Every service reads and writes a conversation through :class:`ConversationStore`
(:class:`Conversations` in MongoDB): threads are opened, messages take their place at the
end of a thread together with the events that announce them, drafts are settled, and a
thread's owner changes together with its ``thread.assigned`` event. The ownership log
(:class:`OwnershipLog`) answers who owned a thread, and when; the escalation budget
(:class:`Escalations`) how often a conversation may still be handed to people.
"""

from ._audit import Ownership, OwnershipLog, on_thread_assigned
from ._escalations import EscalationBudget, Escalations, EscalationSettings, Refused
from ._model import Appended, Because, DraftStatus, Message, Role, Thread, UnknownThreadError
from ._mongo import Conversations
from ._store import Announce, ConversationStore

__all__ = [
    "Announce",
    "Appended",
    "Because",
    "ConversationStore",
    "Conversations",
    "DraftStatus",
    "EscalationBudget",
    "EscalationSettings",
    "Escalations",
    "Message",
    "Ownership",
    "OwnershipLog",
    "Refused",
    "Role",
    "Thread",
    "UnknownThreadError",
    "on_thread_assigned",
]
