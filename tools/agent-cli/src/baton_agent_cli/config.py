"""Where ``baton-agent`` keeps the URL and token of a login, and which one a command uses.

The file is ``$BATON_AGENT_CONFIG``, else ``$XDG_CONFIG_HOME/baton/agent.json``, else
``~/.config/baton/agent.json``. ``--url`` / ``--token``, then ``BATON_AGENT_URL`` /
``BATON_AGENT_TOKEN``, take precedence over it, so scripts need no file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CliError


@dataclass(frozen=True)
class Login:
    url: str
    token: str


def config_path() -> Path:
    explicit = os.environ.get("BATON_AGENT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "baton" / "agent.json"


def save_login(login: Login, path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created 0600 rather than chmod-ed after writing: the token is never readable by others,
    # not even for a moment; chmod covers a file that existed with wider permissions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({"url": login.url, "token": login.token}, file, indent=2)
        file.write("\n")
    path.chmod(0o600)


def load_login(url: str | None = None, token: str | None = None) -> Login:
    """The login a command uses: ``url`` / ``token`` (the options), else the environment,
    else the file ``login`` saved."""
    stored: Mapping[str, Any] = {}
    path = config_path()
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {path}: {exc}") from exc
    url = url or os.environ.get("BATON_AGENT_URL") or stored.get("url")
    token = token or os.environ.get("BATON_AGENT_TOKEN") or stored.get("token")
    if not url or not token:
        raise CliError("not signed in: run `baton-agent login --url URL --token TOKEN` first")
    return Login(url=str(url).rstrip("/"), token=str(token))
