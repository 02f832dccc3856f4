"""The human team at work in the agent console, in a real headless Chromium on the running
pipeline: presence set by signing in and out and switched in the header, a ticket handed out
to an online agent without a reload, a transfer with a note, a supervisor's takeover of a
conversation the AI owns and a supervisor's assignment. Each outcome is checked through the
API as well as on the page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Request, expect

from baton_contracts import MessageSent, ThreadAssigned
from tests.support.browser import contrast_failures, screenshot, signed_in
from tests.support.pipeline import Pipeline
from tests.support.queue import AgentClient, department, new_agent, reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(900)


async def supervisor(pipeline: Pipeline, name: str, *departments: str) -> AgentClient:
    response = await pipeline.queue.post(
        "/v1/admin/agents",
        json={"name": name, "departments": list(departments), "role": "supervisor"},
        headers={"Authorization": f"Bearer {pipeline.admin_token}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return AgentClient(
        pipeline.queue, body["agent_id"], name, tuple(body["departments"]), body["token"]
    )


async def me(agent: AgentClient) -> dict[str, Any]:
    response = await agent.get("/v1/agents/me")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def conversation(pipeline: Pipeline, agent: AgentClient, dept: str) -> tuple[str, str]:
    """A thread of ``dept`` the router gives to people, and its conversation ticket's id."""
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await agent.wait_for_ticket(thread_id, kind="conversation")
    return thread_id, ticket["ticket_id"]


async def test_signing_in_sets_the_agent_online_and_signing_out_offline(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", department())
    assert (await me(alex))["status"] == "offline"

    page = await signed_in(context, pipeline, alex)
    presence = page.get_by_role("group", name="Your status")
    await expect(page.get_by_role("status")).to_have_text("Signed in as Alex; you are online.")
    # In words: each choice is named, the header counts the load.
    await expect(presence.get_by_label("Online")).to_be_checked()
    await expect(page.locator("#presence-load")).to_have_text(re.compile(r"^0 of \d+ tickets$"))
    assert (await me(alex))["status"] == "online"
    # Takeovers are for supervisors: an agent's queue has no such form.
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    assert await page.get_by_label("Thread id").count() == 0

    # Keyboard only: the arrow key moves to "Away" and sets the status at once.
    await presence.get_by_label("Online").focus()
    await page.keyboard.press("ArrowRight")
    await expect(presence.get_by_label("Away")).to_be_checked()
    await expect(presence.get_by_label("Away")).to_be_focused()
    await expect(page.get_by_role("status")).to_have_text("You are away.")
    assert (await me(alex))["status"] == "away"
    assert await contrast_failures(page) == []
    await screenshot(page, "presence-away")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_have_text("Signed out; you are offline.")
    await expect(page.get_by_label("Agent token")).to_be_visible()
    await expect(page.locator("#presence")).to_be_hidden()
    assert (await me(alex))["status"] == "offline"


async def test_an_online_agent_receives_an_auto_assigned_ticket_without_a_reload(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    policy = await pipeline.queue.put(
        f"/v1/admin/departments/{dept}",
        json={"policy": "least_busy"},
        headers={"Authorization": f"Bearer {pipeline.admin_token}"},
    )
    assert policy.status_code == 200, policy.text

    page = await signed_in(context, pipeline, alex)
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(f"{request.method} {request.url}")

    page.on("request", record)
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    await expect(page.locator("#presence-load")).to_have_text(re.compile(r"^0 of \d+ tickets$"))

    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    link = page.locator(f'a[href="#/tickets/{ticket["ticket_id"]}"]')
    row = page.get_by_role("row").filter(has=link)
    await expect(row).to_contain_text("Alex (you)")
    await expect(page.locator("#presence-load")).to_have_text(re.compile(r"^1 of \d+ tickets$"))
    await screenshot(page, "queue-auto-assigned")

    # Handed out by the department's policy, not claimed: and the page was never reloaded.
    handed = (await alex.ticket(ticket["ticket_id"]))["ticket"]
    assert (handed["status"], handed["assigned_agent"]["agent_id"]) == ("assigned", alex.agent_id)
    assert (await me(alex))["ticket_ids"] == [ticket["ticket_id"]]
    assert not [r for r in requests if r.endswith("/console/")]
    assert not [r for r in requests if r.endswith(f"/v1/tickets/{ticket['ticket_id']}/claim")]


async def test_an_agent_transfers_a_ticket_to_another_department_with_a_note(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    billing, shipping = department(), department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", billing)
    bo = await new_agent(pipeline.queue, pipeline.admin_token, "Bo", shipping)
    thread_id, ticket_id = await conversation(pipeline, alex, billing)

    page = await signed_in(context, pipeline, alex)
    await page.goto(f"{pipeline.urls['human-queue']}/console/#/tickets/{ticket_id}")
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("status")).to_have_text("Ticket claimed.")

    # Folded away until wanted; opened from the keyboard.
    await page.locator(".move summary").focus()
    await page.keyboard.press("Enter")
    to_department = page.get_by_label("To department")
    await expect(to_department).to_be_visible()

    # Neither department nor agent: said before anything is sent.
    await page.get_by_role("button", name="Transfer", exact=True).click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Error: Name a department, an agent, or both, to transfer the ticket."
    )
    await expect(to_department).to_be_focused()

    # The API's refusal, in its own words.
    nowhere = department()
    await to_department.fill(nowhere)
    await page.get_by_role("button", name="Transfer", exact=True).click()
    await expect(page.get_by_role("alert")).to_have_text(
        f"Error: no agent serves department '{nowhere}' and it has no assignment policy"
    )

    await to_department.fill(shipping)
    await page.get_by_label("Note for whoever receives it (optional)").fill(
        "Parcel lost in transit."
    )
    await assert_no_contrast_failures(page)
    await screenshot(page, "ticket-transfer")
    await page.get_by_role("button", name="Transfer", exact=True).click()
    # Alex serves billing only: back to the queue, told where the ticket went.
    await expect(page.get_by_role("status")).to_have_text(
        f"Ticket #{ticket_id[:8]} transferred to department “{shipping}”."
    )
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()

    moved = await bo.ticket(ticket_id)
    assert (moved["ticket"]["department"], moved["ticket"]["status"]) == (shipping, "pending")
    assert (await me(alex))["open_tickets"] == 0

    async def with_note() -> list[dict[str, Any]] | None:
        body = (await bo.get(f"/v1/threads/{thread_id}/messages")).json()
        return body["notes"] or None

    notes = await eventually(with_note, what="the transfer's note")
    assert [(n["text"], n["author"]["agent_id"]) for n in notes] == [
        ("Parcel lost in transit.", alex.agent_id)
    ]


async def test_a_supervisor_takes_over_a_conversation_the_ai_owns(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "We open at 9 am."))
    dept = department()
    sue = await supervisor(pipeline, "Sue", department())
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"When do you open? {tok}")
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))

    page = await signed_in(context, pipeline, sue)
    await expect(page.locator("#presence-load")).to_contain_text("Supervisor")
    await page.get_by_label("Thread id").fill(f"t-nothing-{tok}")
    await page.get_by_label("Thread id").press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("Error: ")
    await expect(page.get_by_label("Thread id")).to_be_focused()

    await page.get_by_label("Thread id").fill(thread_id)
    await page.get_by_role("button", name="Take over").click()
    await expect(page.get_by_role("heading", level=2)).to_have_text(re.compile(r"^Conversation #"))
    await expect(page.get_by_role("status")).to_have_text(
        "You took the conversation over; its ticket is yours."
    )
    await expect(page.get_by_label("Reply to the user")).to_be_visible()
    await expect(page.locator(".facts")).to_contain_text("Held bySue (you)")
    await expect(page.locator(".facts")).to_contain_text("Thread ownerpeople")
    await screenshot(page, "ticket-takeover")

    [assigned] = await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.agent_id == sue.agent_id
    )
    assert (assigned.previous_owner, assigned.owner) == ("ai", "human")
    [ticket] = await sue.tickets(thread_id=thread_id, kind="conversation")
    assert (ticket["status"], ticket["assigned_agent"]["agent_id"]) == ("assigned", sue.agent_id)
    assert page.url.endswith(f"#/tickets/{ticket['ticket_id']}")


async def test_a_supervisor_assigns_a_ticket_to_an_agent(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    sue = await supervisor(pipeline, "Sue", department())
    _, ticket_id = await conversation(pipeline, alex, dept)

    page = await signed_in(context, pipeline, sue)
    await page.goto(f"{pipeline.urls['human-queue']}/console/#/tickets/{ticket_id}")
    await page.get_by_text("Transfer or assign").click()
    agent_id = page.get_by_label("Assign to agent (agent id)")
    await agent_id.fill("agent-nobody")
    await agent_id.press("Enter")
    await expect(page.get_by_role("alert")).to_have_text(
        "Error: agent 'agent-nobody' does not exist"
    )
    await agent_id.fill(alex.agent_id)
    await page.get_by_role("button", name="Assign", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text(f"Ticket assigned to {alex.agent_id}.")
    await expect(page.locator(".facts")).to_contain_text("Held byAlex")
    assert (await me(alex))["ticket_ids"] == [ticket_id]


async def assert_no_contrast_failures(page: Page) -> None:
    assert await contrast_failures(page) == []
