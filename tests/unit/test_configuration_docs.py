"""docs/configuration.md is what scripts/configuration_docs.py makes of today's Settings.

When this fails, a Settings class changed: run `make docs` and commit docs/configuration.md.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import pytest
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "configuration_docs.py"
DOC = ROOT / "docs" / "configuration.md"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baton_configuration_docs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def test_committed_file_matches_the_settings_classes(generator: ModuleType) -> None:
    expected: str = generator.render()
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if committed != expected:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/configuration.md (committed)",
                "docs/configuration.md (generated now)",
                n=1,
            )
        )
        pytest.fail(
            "docs/configuration.md is out of date with the Settings classes: run `make docs` "
            f"and commit the file.\n{diff[:4000]}",
            pytrace=False,
        )


class _Inner(BaseSettings):
    """Inner settings."""

    model_config = SettingsConfigDict(env_prefix="INNER_")

    url: SecretStr = SecretStr("scheme://host/")


class _Outer(BaseSettings):
    """Outer settings (``OUTER_*``)."""

    model_config = SettingsConfigDict(env_prefix="OUTER_")

    port: int = Field(default=8000, ge=1, le=65535, description="Where | to listen.")
    names: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["a", "b"])
    key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OUTER_KEY", "SHARED_KEY")
    )
    inner: _Inner = Field(default_factory=_Inner)


def test_a_table_row_per_field(generator: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    classes = {"m:Outer": _Outer, "m:Inner": _Inner}
    monkeypatch.setattr(generator, "load", lambda targets: (targets[0], classes[targets[0]]))
    text: str = generator.render(
        [generator.Source("Outer", ("m:Outer",)), generator.Source("Inner part", ("m:Inner",))]
    )

    assert "Outer settings (`OUTER_*`)." in text
    assert "| `OUTER_PORT` | `int` (>= 1, <= 65535) | `8000` | Where \\| to listen. |" in text
    assert "| `OUTER_NAMES` | `list[str]` (comma-separated) | `a,b` |" in text
    assert "| `OUTER_KEY` / `SHARED_KEY` | `SecretStr \\| None` | unset |" in text
    assert "| `INNER_*` | `_Inner` | see [Inner part](#inner-part) |" in text
    assert "| `INNER_URL` | `SecretStr` | `scheme://host/` |" in text
