"""What Baton's tests and its benchmark share: the system as real processes on a local stack
of its own, load as gateways make it, and watchers of the pipeline's topics."""

from .load import (
    APPROVAL_TEXT,
    FAQ_TEXT,
    PEOPLE_TEXT,
    Accepted,
    Load,
    drive,
    new_threads,
    open_loop,
    post_message,
)
from .ports import free_port
from .replies import Observed, watch_replies
from .system import FAST_RECOVERY, STACK_COMMAND, LocalStack, Program, System, new_namespace
from .team import GaveUpError, Team, TeamAgent
from .watch import Seen, follow_topics

__all__ = [
    "APPROVAL_TEXT",
    "FAQ_TEXT",
    "FAST_RECOVERY",
    "PEOPLE_TEXT",
    "STACK_COMMAND",
    "Accepted",
    "GaveUpError",
    "Load",
    "LocalStack",
    "Observed",
    "Program",
    "Seen",
    "System",
    "Team",
    "TeamAgent",
    "drive",
    "follow_topics",
    "free_port",
    "new_namespace",
    "new_threads",
    "open_loop",
    "post_message",
    "watch_replies",
]
