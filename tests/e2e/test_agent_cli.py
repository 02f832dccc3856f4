"""``baton-agent`` as a terminal agent or a script runs it: the installed console script,
a process per command, against the running pipeline's human queue."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baton_contracts import (
    ActionDecided,
    MessageSent,
    ThreadAssigned,
    ToolAction,
    ToolHumanRequested,
)
from tests.support.pipeline import Pipeline
from tests.support.queue import AgentClient, department, new_agent, reply_rule, token
from tests.support.recorder import in_thread

SCRIPT = Path(sys.executable).with_name("baton-agent")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


@dataclass(frozen=True)
class Terminal:
    """One person's shell: their own config file."""

    config: Path

    async def __call__(self, *args: str, stdin: str | None = None) -> Run:
        assert SCRIPT.exists(), f"{SCRIPT} is missing: run `uv sync --all-packages`"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_AGENT_")}
        env["BATON_AGENT_CONFIG"] = str(self.config)
        process = await asyncio.create_subprocess_exec(
            str(SCRIPT),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await process.communicate(stdin.encode() if stdin is not None else None)
        assert process.returncode is not None
        return Run(process.returncode, out.decode(), err.decode())


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path / "config" / "baton" / "agent.json")


async def signed_in(terminal: Terminal, pipeline: Pipeline, agent: AgentClient) -> None:
    run = await terminal("login", "--url", pipeline.urls["human-queue"], "--token", agent.token)
    assert run.code == 0, run.err


async def test_login_keeps_the_token_private_and_refuses_a_wrong_one(
    pipeline: Pipeline, terminal: Terminal
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    url = pipeline.urls["human-queue"]

    not_yet = await terminal("queue")
    assert (not_yet.code, not_yet.out) == (1, "")
    assert not_yet.err.startswith("error: not signed in")

    wrong = await terminal("login", "--url", url, "--token", "bq_wrong")
    assert (wrong.code, wrong.err) == (1, "error: the bearer token is not a valid agent token\n")
    assert not terminal.config.exists()

    # The token from standard input keeps it out of the process list and shell history.
    run = await terminal("login", "--url", url, "--token", "-", stdin=alex.token)
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        f"signed in as Alex ({dept}) at {url}",
        f"saved to {terminal.config}",
    ]
    assert stat.S_IMODE(terminal.config.stat().st_mode) == 0o600
    assert json.loads(terminal.config.read_text()) == {"url": url, "token": alex.token}

    empty = await terminal("queue", "--department", dept)
    assert (empty.code, empty.out) == (0, "no tickets\n")


async def test_an_agent_answers_the_ai_from_the_terminal(
    pipeline: Pipeline, terminal: Terminal, tmp_path: Path
) -> None:
    tok = token()
    question = f"Is the Berlin store open on Sunday? ({tok})"
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {
                "tool_calls": [
                    {"name": "ask_human", "arguments": {"question": question, "context": "Berlin"}}
                ]
            },
        },
        reply_rule(tok, "Yes: {tool_result}", 0.9, has_tool_result=True),
    )
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    bo = await new_agent(pipeline.queue, pipeline.admin_token, "Bo", dept)
    await signed_in(terminal, pipeline, alex)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"Open on Sunday? {tok}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="question")
    ticket_id = ticket["ticket_id"]

    listed = await terminal("queue", "--department", dept)
    assert listed.code == 0, listed.err
    header, row = listed.out.splitlines()
    assert header.split() == [
        "ID",
        "KIND",
        "PRI",
        "STATUS",
        "DEPARTMENT",
        "WAITING",
        "SLA",
        "HOLDER",
        "SUMMARY",
    ]
    assert row.split()[:5] == [ticket_id, "question", "20", "pending", dept]
    assert row.endswith(question)
    assert "left" in row  # the SLA countdown
    # The columns line up: each header starts where its values start.
    assert row.index("question") == header.index("KIND")
    assert row.index(dept) == header.index("DEPARTMENT")

    as_json = (await terminal("queue", "--department", dept, "--kind", "question", "--json")).json()
    assert [t["ticket_id"] for t in as_json["tickets"]] == [ticket_id]
    assert as_json["tickets"][0]["question"] == question

    claimed = await terminal("claim", ticket_id)
    assert claimed.code == 0, claimed.err
    assert claimed.out.startswith(f"claimed {ticket_id} until ")

    # Bo's claim loses; the API's sentence is the error, on stderr, with status 1.
    bo_terminal = Terminal(tmp_path / "bo.json")
    await signed_in(bo_terminal, pipeline, bo)
    lost = await bo_terminal("claim", ticket_id)
    assert (lost.code, lost.out) == (1, "")
    assert lost.err == f"error: ticket {ticket_id} is claimed by Alex\n"

    shown = await terminal("show", ticket_id)
    assert shown.code == 0, shown.err
    assert f"question: {question}" in shown.out
    assert "context: Berlin" in shown.out
    assert "held by     Alex (lease until" in shown.out
    assert "user\n" in shown.out
    assert "AI tool call [not shown to the user]" in shown.out
    detail = (await terminal("show", ticket_id, "--json")).json()
    assert detail["ai"]["question"] == question

    answered = await terminal("answer", ticket_id, "-", stdin="Yes, from 10 to 16.")
    assert answered.code == 0, answered.err
    assert answered.out == f"answered {ticket_id}; the AI continues its reply\n"
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.text, sent.provider) == ("Yes: Yes, from 10 to 16.", "openai")

    # Answering a question is not how an approval is done: the kind is named.
    wrong_kind = await terminal("approve", ticket_id)
    assert wrong_kind.code == 1
    assert wrong_kind.err.startswith("error: ")


async def test_an_agent_approves_an_edited_draft_and_rejects_another_from_the_terminal(
    pipeline: Pipeline, terminal: Terminal
) -> None:
    tok = token()
    await pipeline.script(
        reply_rule(tok, "Refund for order 8 approved.", any_message="rejected your previous draft"),
        reply_rule(tok, "Refund? Sure, whatever."),
    )
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    await signed_in(terminal, pipeline, alex)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"refund please {tok}")
    [first] = await alex.wait_for_ticket(thread_id, kind="approval")

    assert (await terminal("claim", first["ticket_id"])).code == 0
    no_review = await terminal("reject", first["ticket_id"])
    assert no_review.code == 2  # argparse: --review is required
    rejected = await terminal("reject", first["ticket_id"], "--review", "Too casual", "--json")
    assert rejected.json()["resolution"]["action"] == "reject"

    regenerated = await alex.wait_for_ticket(thread_id, kind="approval")
    [second] = [t for t in regenerated if t["ticket_id"] != first["ticket_id"]]
    assert (await terminal("claim", second["ticket_id"])).code == 0
    approved = await terminal(
        "approve", second["ticket_id"], "--text", "Your refund for order 8 is approved."
    )
    assert approved.code == 0, approved.err
    assert approved.out == f"approved the draft of {second['ticket_id']} as edited; it is sent\n"
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Your refund for order 8 is approved."


async def test_an_agent_replies_and_hands_back_from_the_terminal(
    pipeline: Pipeline, terminal: Terminal
) -> None:
    tok = token()
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    await signed_in(terminal, pipeline, alex)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {tok}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    ticket_id = ticket["ticket_id"]

    not_held = await terminal("reply", ticket_id, "Hello")
    assert (not_held.code, not_held.err) == (
        1,
        f"error: ticket {ticket_id} is not claimed; claim it first\n",
    )
    assert (await terminal("claim", ticket_id)).code == 0
    replied = await terminal(
        "reply", ticket_id, "Hi, Alex here.", "--idempotency-key", "k1", "--json"
    )
    body = replied.json()
    # A script that runs the same command again sends nothing new.
    again = await terminal("reply", ticket_id, "Hi, Alex here.", "--idempotency-key", "k1")
    assert again.out == f"replied on {ticket_id}: {body['message_id']}\n"
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.text, sent.agent_name, str(sent.message_id)) == (
        "Hi, Alex here.",
        "Alex",
        body["message_id"],
    )

    resolved = await terminal("resolve", ticket_id, "--handback", "ai")
    assert resolved.out == f"resolved {ticket_id}; the AI has the thread again\n"
    await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.owner == "ai"
    )
    assert len(pipeline.recorder.events(MessageSent, in_thread(thread_id))) == 1
    done = await terminal("queue", "--status", "resolved", "--department", dept)
    assert ticket_id in done.out
    assert "resolved" in done.out


def proposed_refund(thread_id: str, dept: str) -> ToolHumanRequested:
    """The AI's request for approval of a refund call, as the ai-responder sends it."""
    return ToolHumanRequested.first(
        thread_id=thread_id,
        kind="action",
        request_id=uuid.uuid4(),
        message_id=uuid.uuid4(),
        tool_call_id=f"call_{uuid.uuid4().hex[:8]}",
        reason="the refund needs approval",
        department=dept,
        action=ToolAction(
            tool_name="refund",
            description="Refund an order, in part or in full.",
            parameters={
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "amount": {"type": "number", "maximum": 100},
                },
                "required": ["order_id", "amount"],
            },
            arguments={"order_id": "A-7", "amount": 40},
            approval_reason="amount > 20",
        ),
    )


async def decided_in(pipeline: Pipeline, thread_id: str) -> ActionDecided:
    """The thread's one decision (the recorder also sees it again on a dead-letter topic
    when no AI call waits for it: these requests come from the test, not the AI)."""
    found = await pipeline.recorder.wait_for(ActionDecided, in_thread(thread_id))
    [decided] = {e.event_id: e for e in found}.values()
    return decided


async def test_an_agent_approves_an_edited_tool_call_and_denies_another_from_the_terminal(
    pipeline: Pipeline, terminal: Terminal
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    await signed_in(terminal, pipeline, alex)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.publish(proposed_refund(thread_id, dept))
    [ticket] = await alex.wait_for_ticket(thread_id, kind="action")
    ticket_id = ticket["ticket_id"]

    listed = await terminal("queue", "--department", dept, "--kind", "action")
    assert listed.code == 0, listed.err
    assert 'refund(order_id="A-7", amount=40)' in listed.out
    assert (await terminal("claim", ticket_id)).code == 0
    shown = await terminal("show", ticket_id)
    assert shown.code == 0, shown.err
    assert "  tool: refund\n" in shown.out
    assert "  needs approval: amount > 20\n" in shown.out
    assert '"amount": 40' in shown.out
    assert "decide in" in shown.out

    # The schema refuses the edit: the API's sentence names the argument.
    too_much = await terminal("approve-action", ticket_id, "--set", "amount=500")
    assert too_much.code == 1
    assert "at $.amount: 500 is greater than the maximum of 100" in too_much.err
    approved = await terminal("approve-action", ticket_id, "--set", "amount=20")
    assert approved.code == 0, approved.err
    assert approved.out == (
        f"approved the call of refund on {ticket_id} with your arguments; the AI runs it\n"
    )
    decided = await decided_in(pipeline, thread_id)
    assert (decided.decision, decided.arguments, decided.edited) == (
        "approved",
        {"order_id": "A-7", "amount": 20},
        True,
    )
    history = (await terminal("show", ticket_id)).out.split("history:\n")[1]
    assert "  proposed\n" in history
    assert (
        'edited by Alex: {"order_id": "A-7", "amount": 40} -> {"order_id": "A-7", "amount": 20}'
        in history
    )
    assert "approved by Alex\n" in history

    other = await pipeline.new_thread(department=dept)
    await pipeline.publish(proposed_refund(other, dept))
    [second] = await alex.wait_for_ticket(other, kind="action")
    assert (await terminal("claim", second["ticket_id"])).code == 0
    no_reason = await terminal("deny-action", second["ticket_id"])
    assert no_reason.code == 2  # argparse: --reason is required
    denied = await terminal(
        "deny-action", second["ticket_id"], "--reason", "Refunds go through finance", "--json"
    )
    assert denied.json()["resolution"]["action"] == "deny_action"
    refusal = await decided_in(pipeline, other)
    assert (refusal.decision, refusal.reason) == ("denied", "Refunds go through finance")
    wrong_kind = await terminal("approve-action", second["ticket_id"])
    assert wrong_kind.code == 1
    assert wrong_kind.err.startswith("error: ")
