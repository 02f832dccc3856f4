from __future__ import annotations

import pytest
from pydantic import ValidationError

from baton_ingest.settings import PLACEHOLDER_ADMIN_TOKEN, Settings


def test_the_placeholder_admin_token_is_refused_outside_dev(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INGEST_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("INGEST_ENV", raising=False)
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()
    monkeypatch.setenv("INGEST_ENV", "dev")
    assert Settings().admin_token.get_secret_value() == PLACEHOLDER_ADMIN_TOKEN


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(admin_token="short", env="prod")


def test_the_admin_token_is_not_shown_and_rate_limits_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INGEST_ADMIN_TOKEN", "a-real-secret-of-some-length")
    monkeypatch.setenv("INGEST_RATE_LIMIT_USER_RPS", "0.5")
    monkeypatch.setenv("INGEST_RATE_LIMIT_KEY_BURST", "7")
    settings = Settings()
    assert "a-real-secret" not in repr(settings)
    assert (settings.rate_limit_user_rps, settings.rate_limit_key_burst) == (0.5, 7)
    with pytest.raises(ValidationError, match="rate_limit_key_rps"):
        Settings(rate_limit_key_rps=0)
