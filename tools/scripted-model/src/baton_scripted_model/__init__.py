"""An OpenAI-compatible Chat Completions server that answers from scripted rules.

It stands in for a real model in tests and in the offline demo; see the package README.
"""

from .app import create_app
from .conversation import Conversation, Decision
from .latency import LognormalLatency
from .rules import Rule, Script, ScriptError, parse_rules
from .settings import ScriptedModelSettings

__all__ = [
    "Conversation",
    "Decision",
    "LognormalLatency",
    "Rule",
    "Script",
    "ScriptError",
    "ScriptedModelSettings",
    "create_app",
    "parse_rules",
]
