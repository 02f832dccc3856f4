from __future__ import annotations

import pytest

from . import compose
from .prometheus import PrometheusMissingError, Tools, find_or_install


@pytest.fixture(scope="session")
def prometheus_tools() -> Tools:
    """Prometheus 3 and its promtool, built under .tools/prometheus when missing."""
    try:
        return find_or_install()
    except PrometheusMissingError as exc:
        pytest.fail(f"Prometheus is missing: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def compose_tool() -> compose.Compose:
    """docker compose (the plugin, or Debian's docker-compose, installed here when missing),
    to check the compose files; no Docker engine needed."""
    try:
        return compose.find_or_install()
    except compose.ComposeMissingError as exc:
        pytest.fail(f"docker compose is missing: {exc}", pytrace=False)
