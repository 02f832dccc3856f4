"""The live console: ticket changes pushed to agents as server-sent events.

- :mod:`.feed` finds the changes: each instance reads the tickets changed since its last
  read (MongoDB is shared, so a change through any instance reaches every instance);
- :mod:`.hub` fans each change out to the streams whose agent may see it, each stream with a
  bounded queue;
- :mod:`.access` trades an agent's token for a short-lived, single-use stream ticket, and
  re-checks the agent while its stream is open;
- :mod:`.api` serves ``POST /v1/agents/me/stream-ticket`` and ``GET /v1/agents/me/stream``.
"""

from .api import live_router
from .service import Live, agent_by_token_hash
from .settings import LiveSettings

__all__ = ["Live", "LiveSettings", "agent_by_token_hash", "live_router"]
