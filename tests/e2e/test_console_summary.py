"""The AI's summary in the agent console, in a real headless Chromium on the running
pipeline: written after the ticket opened, it is the first thing the ticket shows, under the
notice that the AI wrote it. A screenshot goes to test-artifacts/console/."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from tests.support.browser import contrast_failures, screenshot, signed_in
from tests.support.pipeline import Pipeline
from tests.support.queue import department, new_agent, token

pytestmark = pytest.mark.timeout(900)


async def test_the_summary_is_the_first_thing_in_a_ticket(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    tok = token()
    await pipeline.script(
        {
            "match": {"schema": "ticket_summary", "last_user": tok},
            # Written a moment after the ticket opened, as a real model would.
            "delay_ms": 500,
            "respond": {
                "json": {
                    "issue": f"Parcel {tok} is two weeks late; the customer wants a person.",
                    "tried": "Nothing yet: the router handed the conversation over.",
                    "mood": "angry",
                }
            },
        }
    )
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    page = await signed_in(context, pipeline, alex)

    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want a human NOW, parcel {tok} is two weeks late!!")
    [ticket] = await alex.wait_for_ticket(thread_id)
    await page.goto(f"{pipeline.urls['human-queue']}/console/#/tickets/{ticket['ticket_id']}")
    await expect(page.get_by_role("heading", level=2)).to_have_text(
        f"Conversation #{ticket['ticket_id'][:8]}"
    )

    # It appears (pushed, or read with the ticket), and right under the title, before the
    # ticket's facts, the thread and the actions.
    summary = page.get_by_role("region", name="Summary")
    await expect(summary).to_be_visible()
    await expect(summary).to_contain_text(f"Parcel {tok} is two weeks late")
    await expect(summary.locator(".summary-notice")).to_contain_text(
        "Written by the AI from the customer's words"
    )
    facts = summary.locator("dt")
    await expect(facts).to_have_text(["Issue", "Tried so far", "Customer's mood"])
    await expect(summary.locator("dd").nth(1)).to_have_text(
        "Nothing yet: the router handed the conversation over."
    )
    await expect(summary.locator("dd").nth(2)).to_have_text("Angry")
    order = await page.locator("article").evaluate(
        "(article) => [...article.children].filter((c) => !c.hidden).map((c) => c.className || c.tagName)"
    )
    assert order[:3] == ["H2", "card ticket-summary", "facts"]
    above = await summary.bounding_box()
    below = await page.locator(".facts").bounding_box()
    assert above is not None
    assert below is not None
    assert above["y"] + above["height"] <= below["y"]
    assert await contrast_failures(page) == []
    await screenshot(page, "ticket-summary")

    # The ticket is worked as ever, the summary staying on top.
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("status")).to_have_text("Ticket claimed.")
    await expect(summary).to_contain_text("Angry")
