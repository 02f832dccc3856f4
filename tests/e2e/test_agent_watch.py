"""``baton-agent watch`` as an agent runs it in a terminal: the installed console script,
streaming the pipeline's human queue, one line per change."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.support.pipeline import Pipeline
from tests.support.queue import department, new_agent, token

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).with_name("baton-agent")


async def line_with(stream: asyncio.StreamReader, text: str, seen: list[str]) -> str:
    while True:
        raw = await stream.readline()
        if not raw:
            raise AssertionError(f"watch ended before a line with {text!r}: {seen}")
        line = raw.decode().rstrip("\n")
        seen.append(line)
        if text in line:
            return line


async def test_watch_prints_a_line_for_a_new_ticket_of_the_agents_department(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_AGENT_")}
    env["BATON_AGENT_CONFIG"] = str(tmp_path / "agent.json")
    url = pipeline.urls["human-queue"]
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "watch",
        "--url",
        url,
        "--token",
        alex.token,
        "--count",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        await asyncio.wait_for(line_with(process.stdout, "# watching as", seen), 30)
        thread_id = await pipeline.new_thread(department=dept)
        await pipeline.say(thread_id, f"I want to talk to a human {token()}")
        line = await asyncio.wait_for(line_with(process.stdout, thread_id, seen), 60)
        code = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    [ticket] = await alex.wait_for_ticket(thread_id)
    assert code == 0
    assert ticket["ticket_id"] in line
    assert "conversation" in line
    assert f"dept={dept}" in line
    # The long-lived token is never printed (nor put in a URL the stream used).
    assert alex.token not in "\n".join(seen)
