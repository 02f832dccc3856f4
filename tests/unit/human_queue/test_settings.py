from __future__ import annotations

import pytest
from pydantic import ValidationError

from baton_human_queue.settings import PLACEHOLDER_ADMIN_TOKEN, Settings


def test_the_placeholder_admin_token_is_refused_outside_dev(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUMAN_QUEUE_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("HUMAN_QUEUE_ENV", raising=False)
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()
    monkeypatch.setenv("HUMAN_QUEUE_ENV", "dev")
    assert Settings().admin_token.get_secret_value() == PLACEHOLDER_ADMIN_TOKEN


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(admin_token="short", env="prod")


def test_the_admin_token_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMAN_QUEUE_ADMIN_TOKEN", "a-real-secret-of-some-length")
    settings = Settings()
    assert "a-real-secret" not in repr(settings)
    assert settings.port == 8004
    assert settings.lease_s == 600


def test_sla_and_priority_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMAN_QUEUE_ADMIN_TOKEN", "a-real-secret-of-some-length")
    monkeypatch.setenv("HUMAN_QUEUE_SLA_S", '{"0": 7200, "40": 60}')
    monkeypatch.setenv("HUMAN_QUEUE_PRIORITY", '{"by_tier": {"gold": 40}}')
    settings = Settings()
    assert settings.sla_s == {0: 7200.0, 40: 60.0}
    assert settings.priority.priority("conversation", tier="gold", department=None) == 40
    assert settings.priority.by_kind["approval"] == 30


@pytest.mark.parametrize("sla", [{}, {0: 0}, {0: 60, 10: -1}])
def test_an_unusable_sla_table_is_refused(sla: dict[int, float]) -> None:
    with pytest.raises(ValidationError, match="sla_s"):
        Settings(admin_token="a-real-secret-of-some-length", sla_s=sla)
