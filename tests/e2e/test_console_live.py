"""The agent console's live queue in a real headless Chromium, on the running pipeline: a
new ticket appears without a reload, pushed over the stream (server-sent events) under the
console's strict Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Request, expect

from tests.support.browser import screenshot
from tests.support.pipeline import Pipeline
from tests.support.queue import department, new_agent, token

pytestmark = pytest.mark.timeout(900)


def stream_tickets(requests: list[str]) -> list[str]:
    return [r for r in requests if r.startswith("POST ") and r.endswith("/me/stream-ticket")]


async def test_a_new_ticket_appears_in_the_queue_without_a_reload(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    page = await context.new_page()
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(f"{request.method} {request.url}")

    page.on("request", record)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.goto(f"{pipeline.urls['human-queue']}/console")
    await page.get_by_label("Agent token").fill(alex.token)
    await page.get_by_label("Agent token").press("Enter")
    live = page.locator("#live-state")
    await expect(live).to_have_attribute("data-state", "live")
    await expect(live).to_contain_text("Live")
    # The first read of the queue is done (it may list other tests' tickets without a
    # department, which every agent sees).
    await expect(page.locator("p.updated")).to_contain_text("updated")
    navigations = len([r for r in requests if r.endswith("/console/")])
    bought = len(stream_tickets(requests))

    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await alex.wait_for_ticket(thread_id)
    row = page.locator(f'a[href="#/tickets/{ticket["ticket_id"]}"]')
    await expect(row).to_be_visible()
    await screenshot(page, "queue-live")

    # Pushed, not polled: the stream stayed up the whole time (no new stream ticket, so it
    # never fell back to polling or reconnected), and the page was never loaded again.
    assert len(stream_tickets(requests)) == bought
    assert await live.get_attribute("data-state") == "live"
    assert len([r for r in requests if r.endswith("/console/")]) == navigations
    # The agent's token never went into a URL; the stream took the single-use ticket.
    assert not [r for r in requests if alex.token in r]
    assert [r for r in requests if "/v1/agents/me/stream?ticket=bqs_" in r]
    assert violations == []
