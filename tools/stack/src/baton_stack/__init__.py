"""Baton's local Kafka and MongoDB-wire server (mongo-java-server), without Docker.

Run ``python -m baton_stack up|down|status|env``; see :mod:`baton_stack.cli`.
"""

from .errors import ProbeError, StackError
from .settings import Settings

__all__ = ["ProbeError", "Settings", "StackError"]
