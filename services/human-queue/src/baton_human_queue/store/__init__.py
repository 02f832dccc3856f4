"""The queue's stores in MongoDB, behind the interfaces of :mod:`baton_human_queue.ports`."""

from .audit import MongoActionAudit
from .records import MongoAgents, MongoClaims, MongoDepartments, MongoFeedback
from .tickets import MongoTickets

__all__ = [
    "MongoActionAudit",
    "MongoAgents",
    "MongoClaims",
    "MongoDepartments",
    "MongoFeedback",
    "MongoTickets",
]
