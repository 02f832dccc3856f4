"""``baton-scripted-model``: serve the scripted model over HTTP."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .rules import ScriptError
from .settings import ScriptedModelSettings

LOG_LEVELS = ("debug", "info", "warning", "error")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton-scripted-model",
        description="An OpenAI-compatible model that answers from scripted rules. "
        "Options override the SCRIPTED_MODEL_* environment variables.",
    )
    parser.add_argument("--host", help="interface to listen on (SCRIPTED_MODEL_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (SCRIPTED_MODEL_PORT)")
    parser.add_argument("--script", type=Path, help="YAML/JSON rules file (SCRIPTED_MODEL_SCRIPT)")
    parser.add_argument(
        "--log-level",
        # LOG_LEVEL, as for the services: one line per request at INFO is most of a log.
        default=os.environ.get("LOG_LEVEL", "info").lower(),
        choices=LOG_LEVELS,
        help="default: LOG_LEVEL, else info",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)

    overrides: dict[str, Any] = {
        name: value
        for name, value in (("host", args.host), ("port", args.port), ("script", args.script))
        if value is not None
    }
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = ScriptedModelSettings(**overrides)
        app = create_app(settings)
    except (ValidationError, ScriptError) as exc:
        sys.exit(f"baton-scripted-model: {exc}")
    # No websocket endpoints, so uvicorn need not load a websocket library.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        ws="none",
    )


if __name__ == "__main__":
    main()
