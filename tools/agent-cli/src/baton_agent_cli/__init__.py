"""``baton-agent``: work the human queue from a terminal or a script, over the agent API.

    baton-agent login --url http://127.0.0.1:8004 --token bq_...
    baton-agent queue [--status open] [--kind question] [--department billing]
    baton-agent show TICKET_ID
    baton-agent claim TICKET_ID            baton-agent release TICKET_ID
    baton-agent reply TICKET_ID "text"     baton-agent answer TICKET_ID "text"
    baton-agent approve TICKET_ID [--text "edited text"]
    baton-agent reject TICKET_ID --review "why"
    baton-agent approve-action TICKET_ID [--arguments '{"amount": 20}'] [--set amount=20]
    baton-agent deny-action TICKET_ID --reason "why"
    baton-agent resolve TICKET_ID [--handback ai|none]
    baton-agent ownership THREAD_ID        who owned the thread, and when

Every command takes ``--json`` to print the API's JSON instead of a table. A text (or
token) of ``-`` is read from standard input. An error the API returns is printed as
``error: <detail>`` on stderr with exit status 1.

``login`` checks the token and keeps the URL and token in ``$BATON_AGENT_CONFIG`` (default
``~/.config/baton/agent.json``), readable by the user alone. ``--url`` / ``--token`` or
``BATON_AGENT_URL`` / ``BATON_AGENT_TOKEN`` override it, so scripts need no file.
"""

from .api import Api
from .cli import main
from .config import Login, config_path, load_login, save_login
from .errors import CliError

__all__ = ["Api", "CliError", "Login", "config_path", "load_login", "main", "save_login"]
