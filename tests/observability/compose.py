"""A docker compose implementation that can check a compose file without a Docker engine:
the ``docker compose`` plugin or ``docker-compose``, else Debian's ``docker-compose``
package, installed when missing. ``config`` resolves and validates the file; it needs no
engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

INSTALL_TIMEOUT_S = 900


class ComposeMissingError(Exception):
    """No compose implementation is installed and none can be installed here; says why."""


@dataclass(frozen=True)
class Compose:
    command: tuple[str, ...]

    def config(self, *files: Path, env_file: Path) -> subprocess.CompletedProcess[str]:
        """``compose config`` of ``files`` with the variables of ``env_file`` only."""
        args = [*self.command, "--env-file", str(env_file)]
        for path in files:
            args += ["-f", str(path)]
        # Variables of this process's environment would take precedence over the file's.
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_PASSWORD"))}
        return subprocess.run(  # noqa: S603 - the installed compose, our own arguments
            [*args, "config"], capture_output=True, text=True, check=False, timeout=120, env=env
        )


def _which() -> Compose | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(  # noqa: S603
            [docker, "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return Compose((docker, "compose"))
    legacy = shutil.which("docker-compose")
    return Compose((legacy,)) if legacy else None


def find_or_install() -> Compose:
    found = _which()
    if found is not None:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ComposeMissingError(
            "neither `docker compose` nor `docker-compose` is installed, and installing "
            "Debian's docker-compose package needs apt-get and root"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "docker-compose"],
    ):
        done = subprocess.run(  # noqa: S603 - fixed apt-get commands
            command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
        )
        if done.returncode != 0:
            raise ComposeMissingError(
                f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}"
            )
    found = _which()
    if found is None:
        raise ComposeMissingError("Debian's docker-compose package installed no docker-compose")
    return found
