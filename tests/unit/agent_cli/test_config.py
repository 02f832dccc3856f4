"""The login file: where it is, that only its owner can read it, and what overrides it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from baton_agent_cli import CliError, Login, config_path, load_login, save_login


def test_the_file_is_baton_agent_config_else_under_the_xdg_config_home(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config_path() == config
    monkeypatch.setenv("BATON_AGENT_CONFIG", "~/agent.json")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_path() == tmp_path / "agent.json"

    monkeypatch.delenv("BATON_AGENT_CONFIG")
    assert config_path() == tmp_path / ".config" / "baton" / "agent.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "baton" / "agent.json"


def test_a_saved_login_is_readable_by_its_owner_alone(config: Path) -> None:
    save_login(Login(url="http://queue.test", token="bq_alex"), config)

    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert json.loads(config.read_text()) == {"url": "http://queue.test", "token": "bq_alex"}


def test_saving_over_a_file_others_could_read_makes_it_private(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text('{"url": "http://old.test", "token": "bq_old", "extra": 1}')
    config.chmod(0o644)

    save_login(Login(url="http://queue.test", token="bq_alex"), config)

    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": "http://queue.test", "token": "bq_alex"}


def test_the_options_then_the_environment_override_the_file(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_login(Login(url="http://file.test", token="bq_file"), config)
    assert load_login() == Login(url="http://file.test", token="bq_file")

    monkeypatch.setenv("BATON_AGENT_URL", "http://env.test/")
    monkeypatch.setenv("BATON_AGENT_TOKEN", "bq_env")
    assert load_login() == Login(url="http://env.test", token="bq_env")

    assert load_login("http://option.test/", "bq_option") == Login(
        url="http://option.test", token="bq_option"
    )
    # Each of the two is looked up on its own.
    assert load_login(url="http://option.test") == Login(url="http://option.test", token="bq_env")


def test_the_environment_alone_is_a_login(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_AGENT_URL", "http://env.test")
    monkeypatch.setenv("BATON_AGENT_TOKEN", "bq_env")
    assert load_login() == Login(url="http://env.test", token="bq_env")
    assert not config.exists()


def test_without_a_login_the_error_says_how_to_sign_in(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CliError, match=r"^not signed in: run `baton-agent login"):
        load_login()
    monkeypatch.setenv("BATON_AGENT_URL", "http://env.test")
    with pytest.raises(CliError, match="not signed in"):
        load_login()


def test_an_unreadable_file_is_named_in_the_error(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text("{not json")
    with pytest.raises(CliError, match=rf"^cannot read {config}: "):
        load_login()
