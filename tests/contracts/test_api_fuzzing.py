"""Property-based fuzzing of both HTTP APIs with schemathesis, against the session's real
services (Kafka, MongoDB, HTTP): with valid credentials and without.

Each run generates requests from the service's own OpenAPI document (its examples, the
boundaries of every constraint, then random valid and invalid input) and fails on any 5xx,
on any answer its document does not declare (status, content type, body schema, headers),
on invalid input that is accepted, and on an operation that works without its credentials.
The number of examples per operation is bounded, so the run takes a few minutes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.support.pipeline import Pipeline
from tests.support.queue import department, new_agent, token

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
REPORTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "fuzzing"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
)
MAX_EXAMPLES = int(os.environ.get("BATON_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("BATON_FUZZ_SEED", "20261207")
ADMIN = r"^/v1/admin"


async def fuzz(
    name: str,
    base_url: str,
    *,
    token: str | None = None,
    include: str | None = None,
    exclude: str | None = None,
    parameters: dict[str, str] | None = None,
) -> None:
    """One schemathesis run against ``base_url``'s OpenAPI document; fails with its report.
    ``parameters`` fixes the value of the parameters so named (real ids), so the run gets
    past "unknown ticket" to the actions themselves."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    config = REPORTS / f"{name}.toml"
    config.write_text(
        "[parameters]\n" + "".join(f'{k} = "{v}"\n' for k, v in (parameters or {}).items())
    )
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(REPORTS / f"{name}.xml"),
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    if include is not None:
        command += ["--include-path-regex", include]
    if exclude is not None:
        command += ["--exclude-path-regex", exclude]
    # A subprocess, so this event loop, which serves the services, keeps serving them.
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    (REPORTS / f"{name}.txt").write_text(text)
    if process.returncode != 0:
        pytest.fail(f"schemathesis found problems in {name}:\n{text[-12_000:]}", pytrace=False)


async def test_the_human_queue_api_holds_against_generated_input(pipeline: Pipeline) -> None:
    url = pipeline.urls["human-queue"]
    dept = department()
    agent = await new_agent(pipeline.queue, pipeline.admin_token, "Fuzz", dept)
    await fuzz("human-queue-agent", url, token=agent.token, exclude=ADMIN)
    # Its own conversation ticket: claims, replies, releases and resolves with generated input.
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await agent.wait_for_ticket(thread_id, kind="conversation")
    await fuzz(
        "human-queue-ticket",
        url,
        token=agent.token,
        exclude=ADMIN,
        parameters={"ticket_id": ticket["ticket_id"], "thread_id": thread_id},
    )
    await fuzz("human-queue-admin", url, token=pipeline.admin_token, include=ADMIN)
    await fuzz("human-queue-anonymous", url)


async def test_the_ingest_api_holds_against_generated_input(pipeline: Pipeline) -> None:
    url = pipeline.urls["ingest"]
    key = pipeline.gateway["key"]
    # A thread's stream is left out: open on a thread the run made, it lasts for as long as
    # a stream may (its keep-alives beat the request timeout); tests/integration/
    # test_streaming.py checks what it answers.
    await fuzz("ingest-gateway", url, token=key, exclude=rf"{ADMIN}|/stream$")
    # Its own thread, so the run gets past "unknown thread" to posting and reading messages.
    thread_id = await pipeline.new_thread()
    await fuzz(
        "ingest-thread",
        url,
        token=key,
        exclude=rf"{ADMIN}|/stream$",
        parameters={"thread_id": thread_id},
    )
    await fuzz("ingest-admin", url, token=pipeline.admin_token, include=ADMIN)
    await fuzz("ingest-anonymous", url)
