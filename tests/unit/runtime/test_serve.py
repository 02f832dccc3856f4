"""serve(): what exists before serving is frozen out of the garbage collector's reach."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from baton_runtime import serve


def test_the_composed_process_is_frozen_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: FastAPI, **options: Any) -> None:
        seen.update(options, app=app, frozen=gc.get_freeze_count())

    monkeypatch.setattr(uvicorn, "run", run)
    app = FastAPI()
    try:
        serve(app, host="127.0.0.1", port=8123)
    finally:
        gc.unfreeze()

    assert seen["app"] is app
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    assert seen["frozen"] > 10_000  # the imported libraries at least
