"""The committed AsyncAPI document passes the official AsyncAPI CLI (`asyncapi validate`).

The CLI is installed under .tools/asyncapi from the versions pinned in scripts/asyncapi/ on
first use; when it cannot be installed the test fails with the reason, never skips.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from baton_contracts.schema import ASYNCAPI_NAME, DEFAULT_DIR

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "asyncapi_cli.py"
DOCUMENT = Path(DEFAULT_DIR).parent / ASYNCAPI_NAME

pytestmark = pytest.mark.timeout(1200)


def cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baton_asyncapi_cli", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_asyncapi_cli_accepts_the_committed_document() -> None:
    asyncapi = cli()
    try:
        asyncapi.install()
    except asyncapi.CliMissingError as exc:
        pytest.fail(f"the AsyncAPI CLI cannot be installed: {exc}", pytrace=False)
    done = asyncapi.validate(DOCUMENT)
    report = f"{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report
    assert "is valid" in report, report
