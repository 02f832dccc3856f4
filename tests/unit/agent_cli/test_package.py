"""The agent CLI installs on an agent's machine alone: it must not need the server's code."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_SIDE = ("baton_human_queue", "baton_runtime", "baton_contracts", "fastapi", "pydantic")


def test_running_the_cli_loads_nothing_of_the_server() -> None:
    # A fresh interpreter: this test session has the whole workspace imported already.
    code = (
        "import json, sys; import baton_agent_cli.cli; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))
    assert "httpx" in loaded
    assert loaded.isdisjoint(SERVER_SIDE)
