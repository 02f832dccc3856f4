"""The scripted model's command line: its log level follows LOG_LEVEL unless given."""

from __future__ import annotations

import pytest

from baton_scripted_model.__main__ import parser


def test_log_level_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert parser().parse_args([]).log_level == "warning"
    assert parser().parse_args(["--log-level", "debug"]).log_level == "debug"


def test_log_level_is_info_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    assert parser().parse_args([]).log_level == "info"
