from __future__ import annotations

import pytest

from .prometheus import PrometheusMissingError, Tools, find_or_install


@pytest.fixture(scope="session")
def prometheus_tools() -> Tools:
    """Prometheus and promtool, from Debian's package (installed here when missing)."""
    try:
        return find_or_install()
    except PrometheusMissingError as exc:
        pytest.fail(f"Prometheus is missing: {exc}", pytrace=False)
