"""Action tickets in the agent console, in a real headless Chromium on the running pipeline.

The AI's request to run a tool is published to Kafka as the AI responder would; an agent
finds the ticket in the queue, claims it, and approves the call with edited arguments or
denies it, through a form built from the tool's JSON Schema. What the human queue publishes
(`action.decided`) is read back from Kafka. Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from baton_contracts import ActionDecided, ToolAction, ToolHumanRequested, topics
from baton_testkit import Seen
from tests.support.browser import contrast_failures, screenshot, signed_in
from tests.support.pipeline import Pipeline
from tests.support.queue import department, new_agent

pytestmark = pytest.mark.timeout(900)

REFUND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {
            "type": "string",
            "description": "The order to refund.",
            "pattern": "^A-[0-9]+$",
        },
        "amount": {"type": "number", "minimum": 0, "description": "In EUR."},
        "reason": {"type": "string", "enum": ["damaged", "late", "other"]},
        "notify": {"type": "boolean", "description": "Email the customer."},
        "lines": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["order_id", "amount", "reason"],
}


async def ask_for_approval(pipeline: Pipeline, dept: str, arguments: dict[str, Any]) -> str:
    """A thread of ``dept`` whose AI proposes a refund that needs approval: its thread id."""
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.publish(
        ToolHumanRequested.first(
            thread_id=thread_id,
            kind="action",
            request_id=uuid.uuid4(),
            message_id=uuid.uuid4(),
            tool_call_id=f"call_{uuid.uuid4().hex[:12]}",
            reason="The AI wants to refund an order.",
            department=dept,
            action=ToolAction(
                tool_name="refund_order",
                description="Refunds an order to the customer's card.",
                parameters=REFUND_SCHEMA,
                arguments=arguments,
                approval_reason="amount > 100",
            ),
        )
    )
    return thread_id


async def open_claimed(page: Page, dept: str) -> str:
    """Open the department's action ticket from the queue and claim it: its id."""
    await page.get_by_label("Department").select_option(dept)
    link = page.get_by_role("link", name="Tool call: refund_order (amount > 100)")
    await expect(link).to_be_visible()
    await expect(page.get_by_role("row").filter(has=link)).to_contain_text("Action")
    await link.click()
    await expect(page.get_by_role("heading", level=2)).to_have_text(re.compile(r"^Action #"))
    ticket_id = page.url.rsplit("/", 1)[-1]
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("status")).to_have_text("Ticket claimed.")
    return ticket_id


async def decision(pipeline: Pipeline, ticket_id: str) -> ActionDecided:
    """The ticket's decision as published on `action.decided` (the AI responder dead-letters
    it here, as no turn of its own waits for it: the recorder sees that copy too)."""

    def ours(seen: Seen) -> bool:
        return isinstance(seen.event, ActionDecided) and seen.event.ticket_id == ticket_id

    [record] = await pipeline.recorder.wait_for_raw(topics.ACTION_DECIDED, ours)
    assert isinstance(record.event, ActionDecided)
    return record.event


async def test_an_agent_edits_the_arguments_and_approves_the_call(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    proposed = {
        "order_id": "A-1001",
        "amount": 120.5,
        "reason": "damaged",
        "notify": True,
        "lines": [1, 2],
        "channel": "web",  # not in the schema: shown as JSON, sent as it is
    }
    thread_id = await ask_for_approval(pipeline, dept, proposed)
    page = await signed_in(context, pipeline, alex)
    ticket_id = await open_claimed(page, dept)

    # The call as the AI proposes it, and the tool's configured description and condition.
    ai = page.locator(".ai")
    await expect(ai).to_contain_text("Why: The AI wants to refund an order.")
    await expect(ai.locator(".tool-name")).to_have_text("refund_order")
    await expect(ai).to_contain_text("Refunds an order to the customer's card.")
    await expect(ai).to_contain_text("amount > 100")
    proposed_list = ai.locator(".proposed-arguments dd")
    await expect(proposed_list).to_have_text(["A-1001", "120.5", "damaged", "true", "[1,2]", "web"])

    # The form: one field per property, in order, then the extra argument; the first has focus.
    fields = page.locator(".arguments .arg-field")
    await expect(fields.locator(".arg-name")).to_have_text(
        ["order_id", "amount", "reason", "notify", "lines", "channel"]
    )
    await expect(page.get_by_label("order_id")).to_be_focused()
    await expect(page.get_by_label("order_id")).to_have_value("A-1001")
    amount = page.get_by_role("spinbutton", name="amount")
    await expect(amount).to_have_value("120.5")
    await expect(page.get_by_role("combobox", name="reason")).to_have_value("0")
    await expect(page.get_by_label("notify")).to_be_checked()
    lines = page.get_by_label("lines")
    await expect(lines).to_have_value("[\n  1,\n  2\n]")
    await expect(page.get_by_label("channel")).to_have_value('"web"')
    await expect(fields.nth(0)).to_contain_text("(required)")
    await expect(fields.nth(3)).not_to_contain_text("(required)")
    history = page.get_by_role("region", name="History of the call")
    await expect(history.locator(".history-entry").first).to_contain_text("Proposed by the AI")

    # What cannot be parsed is caught at its field, and nothing is sent.
    await lines.fill("[1, 2")
    await amount.fill("-5")
    await page.get_by_role("button", name="Approve and run").click()
    await expect(fields.nth(1).locator(".field-error")).to_have_text("Must be at least 0.")
    await expect(fields.nth(4).locator(".field-error")).to_contain_text("Not valid JSON")
    await expect(lines).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".form-error")).to_have_text(
        "Fix these arguments first: amount, lines."
    )
    await expect(amount).to_be_focused()

    # The server checks the whole schema (the order id's pattern): its sentence is shown and
    # the form keeps what the agent typed.
    await lines.fill("[1, 2]")
    await expect(fields.nth(4).locator(".field-error")).to_be_hidden()
    await amount.fill("95.5")
    await page.get_by_label("order_id").fill("B-7")
    await page.get_by_role("button", name="Approve and run").click()
    await expect(page.get_by_role("alert")).to_have_text(re.compile(r"^Error: .+"))
    refusal = (await page.get_by_role("alert").text_content() or "").removeprefix("Error: ")
    await expect(page.locator(".form-error")).to_have_text(refusal)
    await expect(amount).to_have_value("95.5")
    assert pipeline.recorder.events(ActionDecided, lambda e: e.ticket_id == ticket_id) == []

    await page.get_by_label("order_id").fill("A-1001")
    await expect(fields.nth(1).locator(".changed")).to_be_visible()
    await expect(fields.nth(0).locator(".changed")).to_be_hidden()
    assert await contrast_failures(page) == []
    await screenshot(page, "ticket-action")
    await page.get_by_role("button", name="Approve and run").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Call approved with your edited arguments; the AI runs it."
    )

    decided = await decision(pipeline, ticket_id)
    assert decided.thread_id == thread_id
    assert (decided.decision, decided.edited, decided.tool_name) == (
        "approved",
        True,
        "refund_order",
    )
    assert decided.arguments == {**proposed, "amount": 95.5}
    assert decided.agent.agent_id == alex.agent_id

    await expect(page.locator(".facts")).to_contain_text("Resolved")
    await expect(page.locator(".actions")).to_contain_text("Resolved by Alex (approved the action)")
    await expect(page.get_by_role("button", name="Approve and run")).to_have_count(0)
    await expect(history).to_contain_text("Approved by Alex")
    await expect(history).to_contain_text("amount: 120.5 → 95.5")
    assert await contrast_failures(page) == []
    await screenshot(page, "ticket-action-approved")


async def test_an_agent_denies_the_call_with_a_reason(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    await ask_for_approval(pipeline, dept, {"order_id": "A-2002", "amount": 300, "reason": "late"})
    page = await signed_in(context, pipeline, alex)
    ticket_id = await open_claimed(page, dept)

    # A reason is needed: an empty one is stopped by the browser, a blank one by the page.
    deny = page.get_by_role("button", name="Deny")
    await deny.click()
    await expect(page.get_by_role("status")).to_have_text("Ticket claimed.")
    await page.get_by_label("Reason for denying").fill("   ")
    await deny.click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Error: Give a reason for denying the call."
    )
    await expect(page.get_by_label("Reason for denying")).to_be_focused()

    await page.get_by_label("Reason for denying").fill("A voucher was already sent for this order.")
    await deny.click()
    await expect(page.get_by_role("status")).to_have_text("Call denied; the AI is told why.")

    decided = await decision(pipeline, ticket_id)
    assert (decided.decision, decided.reason, decided.arguments) == (
        "denied",
        "A voucher was already sent for this order.",
        None,
    )
    assert decided.agent.agent_id == alex.agent_id
    await expect(page.locator(".actions")).to_contain_text("Resolved by Alex (denied the action)")
    history = page.get_by_role("region", name="History of the call")
    await expect(history).to_contain_text("Denied by Alex")
    await expect(history).to_contain_text("Reason: A voucher was already sent for this order.")
