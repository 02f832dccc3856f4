"""The agent console in a real headless Chromium, on the running pipeline.

A user writes over the ingest API, the AI and the router act over Kafka, and an agent
works the ticket through the page as a person would: signing in with a token, finding the
ticket in the live queue, claiming it and acting with the keyboard and mouse. Screenshots
of the queue and the ticket views go to test-artifacts/console/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from baton_contracts import MessageSent, ThreadAssigned
from tests.support.browser import contrast_failures, screenshot, signed_in
from tests.support.pipeline import Pipeline
from tests.support.queue import department, new_agent, reply_rule, token
from tests.support.recorder import in_thread

# The first test may install Chromium with apt and start the pipeline: more than the
# default two minutes on a fresh machine.
pytestmark = pytest.mark.timeout(900)


async def assert_readable(page: Page) -> None:
    assert await contrast_failures(page) == []


async def test_the_console_is_served_with_a_strict_content_policy(pipeline: Pipeline) -> None:
    http = pipeline.queue
    root = await http.get("/console")
    assert (root.status_code, root.headers["location"]) == (307, "console/")
    page = await http.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = await http.get("/console/app.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    # Only the console's own files are served, nothing else of the package.
    missing = await http.get("/console/router.py")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (await http.get("/console/..%2Frouter.py")).status_code == 404
    anonymous = await http.get("/console/me")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")


async def test_an_agent_answers_the_ai_question_in_the_console(
    pipeline: Pipeline, context: BrowserContext, browser: Browser
) -> None:
    tok = token()
    question = f"Did order 77 ship? ({tok})"
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {
                "tool_calls": [
                    {"name": "ask_human", "arguments": {"question": question, "context": "77"}}
                ]
            },
        },
        reply_rule(tok, "Good news: {tool_result}", 0.9, has_tool_result=True),
    )
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    bo = await new_agent(pipeline.queue, pipeline.admin_token, "Bo", dept)

    # A wrong token is refused with the API's own words, and the form stays.
    page = await context.new_page()
    await page.goto(f"{pipeline.urls['human-queue']}/console")
    await page.get_by_label("Agent token").fill("bq_not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Error: the bearer token is not a valid agent token"
    )
    await page.get_by_label("Agent token").fill(alex.token)
    await page.get_by_label("Agent token").press("Enter")
    await expect(page.locator("#who")).to_contain_text("Alex")
    await page.get_by_label("Department").select_option(dept)
    await expect(page.get_by_text("No tickets match these filters.")).to_be_visible()

    # The page is open before the ticket exists: it must appear without a reload.
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"Where is order 77? {tok}")
    link = page.get_by_role("link", name=question)
    await expect(link).to_be_visible()
    row = page.get_by_role("row").filter(has=link)
    await expect(row).to_contain_text("Question")
    await expect(row).to_contain_text("20")  # a question's priority
    await expect(row.locator(".sla")).to_have_text(re.compile(r"^\d+m \d\ds left$"))
    await assert_readable(page)
    await screenshot(page, "queue")

    # Keyboard only: the ticket link opens with Enter.
    await link.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=2)).to_have_text(re.compile(r"^Question #"))
    await expect(page.locator(".ai")).to_contain_text(question)
    # Shown as the AI's words from the customer's, never as Baton's own instruction.
    await expect(page.locator(".ai-notice")).to_contain_text("not an instruction from Baton")
    messages = page.locator(".messages > li")
    await expect(messages.nth(0).locator(".role")).to_have_text("User")
    await expect(messages.nth(1).locator(".role")).to_have_text("AI · tool call")
    await expect(messages.nth(1)).to_contain_text("not shown to the user")
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("status")).to_have_text("Ticket claimed.")

    # Bo's page still offers the claim; the API's refusal is shown as it is.
    bo_context = await browser.new_context()
    try:
        bo_page = await signed_in(bo_context, pipeline, bo)
        await bo_page.goto(page.url)
        await bo_page.get_by_role("button", name="Claim").click()
        await expect(bo_page.get_by_role("alert")).to_have_text(
            re.compile(r"^Error: ticket \S+ is claimed by Alex$")
        )
        await expect(bo_page.locator(".actions")).to_contain_text("Claimed by Alex.")
    finally:
        await bo_context.close()

    # Claiming moved the focus to the answer; Ctrl+Enter sends it.
    answer = page.get_by_label("Your answer to the AI's question")
    await expect(answer).to_be_focused()
    await page.keyboard.type("It shipped on Monday.")
    await page.keyboard.press("Control+Enter")
    await expect(page.get_by_role("status")).to_have_text(
        "Answer sent; the AI continues its reply."
    )

    # The end user receives the AI's continued reply, and the page shows it live.
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.text, sent.provider) == ("Good news: It shipped on Monday.", "openai")
    shown = await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")
    assert [m["text"] for m in shown.json()["messages"]][-1] == "Good news: It shipped on Monday."
    await expect(page.locator(".message-tool .role").last).to_have_text(
        "Tool result · answered by Alex"
    )
    await expect(page.locator(".message-ai").last).to_contain_text(
        "Good news: It shipped on Monday."
    )
    await expect(page.locator(".actions")).to_contain_text("Resolved by Alex (answered)")
    await assert_readable(page)
    await screenshot(page, "ticket-question")


async def test_an_agent_edits_and_approves_a_draft_in_the_console(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "Your refund of 20 EUR is on its way."))
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want a refund {tok}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="approval")

    page = await signed_in(context, pipeline, alex)
    await page.goto(f"{pipeline.urls['human-queue']}/console/#/tickets/{ticket['ticket_id']}")
    await expect(page.get_by_role("heading", level=2)).to_have_text(re.compile(r"^Approval #"))
    await expect(page.locator(".ai")).to_contain_text("Why: sensitive topic: refund")
    await expect(page.locator(".message-ai .badge")).to_have_text("Draft · waiting for approval")

    await page.get_by_role("button", name="Claim").click()
    draft = page.get_by_label("Draft to send")
    await expect(draft).to_have_value("Your refund of 20 EUR is on its way.")
    await draft.fill("Your refund of 25 EUR is on its way.")
    await assert_readable(page)
    await screenshot(page, "ticket-approval")
    await page.get_by_role("button", name="Approve and send").click()
    await expect(page.get_by_role("status")).to_have_text("Edited draft approved and sent.")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Your refund of 25 EUR is on its way."
    assert str(sent.message_id) == ticket["draft_message_id"]
    await expect(page.locator(".message-ai .badge")).to_have_text("Draft · approved")
    await expect(page.locator(".actions")).to_contain_text("Resolved by Alex (approved the draft)")


async def test_an_agent_rejects_a_draft_with_a_review_in_the_console(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    tok = token()
    await pipeline.script(
        reply_rule(tok, "Refund approved for order 7.", any_message="rejected your previous draft"),
        reply_rule(tok, f"Refund? Sure, whatever. ({tok})"),
    )
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"refund please {tok}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="approval")

    page = await signed_in(context, pipeline, alex)
    # Tickets without a department are everyone's: other tests' drafts may be listed too.
    await page.get_by_role("link", name=f"Refund? Sure, whatever. ({tok})").click()
    await page.get_by_role("button", name="Claim").click()
    # An empty review is not sent: the browser asks for it first.
    await page.get_by_role("button", name="Reject draft").click()
    await expect(page.get_by_role("status")).to_have_text("Ticket claimed.")
    await page.get_by_label("Review").fill("Too casual")
    await page.get_by_role("button", name="Reject draft").click()
    await expect(page.get_by_role("status")).to_have_text("Draft rejected.")
    await expect(page.locator(".message-ai .badge").first).to_have_text("Draft · rejected")
    await expect(page.locator(".actions")).to_contain_text("Resolved by Alex (rejected the draft)")

    # The AI regenerates with the review; its new draft is the queue's next approval.
    regenerated = await alex.wait_for_ticket(thread_id, kind="approval")
    assert [t["draft_text"] for t in regenerated] == ["Refund approved for order 7."]
    assert regenerated[0]["ticket_id"] != ticket["ticket_id"]
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []


async def test_an_agent_replies_and_hands_the_thread_back_in_the_console(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    tok = token()
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {tok}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")

    page = await signed_in(context, pipeline, alex)
    await page.goto(f"{pipeline.urls['human-queue']}/console/#/tickets/{ticket['ticket_id']}")
    await page.get_by_role("button", name="Claim").click()
    await page.get_by_label("Reply to the user").fill("Hi, Alex here. How can I help?")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.get_by_role("status")).to_have_text("Reply sent.")
    await expect(page.get_by_label("Reply to the user")).to_have_value("")
    await expect(page.locator(".message-human .role")).to_have_text("Human · Alex")
    await expect(page.locator(".ai")).to_contain_text("the user asked for a person")
    await assert_readable(page)
    await screenshot(page, "ticket-conversation")
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.text, sent.agent_name, sent.provider) == (
        "Hi, Alex here. How can I help?",
        "Alex",
        "human",
    )

    await page.get_by_label("Hand the conversation back to the AI").check()
    await page.get_by_role("button", name="Resolve").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Resolved; the AI has the conversation again."
    )
    await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.owner == "ai"
    )
    await expect(page.locator(".facts")).to_contain_text("the AI")


async def test_an_agent_adds_a_note_and_sends_a_canned_reply_in_the_console(
    pipeline: Pipeline, context: BrowserContext
) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    created = await pipeline.queue.post(
        "/v1/admin/canned-responses",
        json={
            "department": dept,
            "shortcut": "greet",
            "title": "Greeting",
            "text": "Hi {user_name}, {agent_name} here.",
        },
        headers={"Authorization": f"Bearer {pipeline.admin_token}"},
    )
    assert created.status_code == 201, created.text
    thread_id = await pipeline.new_thread(department=dept, metadata={"name": "Ada"})
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")

    page = await signed_in(context, pipeline, alex)
    await page.goto(f"{pipeline.urls['human-queue']}/console/#/tickets/{ticket['ticket_id']}")
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("status")).to_have_text("Ticket claimed.")

    # A note, added from the keyboard, shows marked internal in words.
    await page.get_by_label("New internal note").fill("VIP: answer within the hour.")
    await page.get_by_label("New internal note").press("Control+Enter")
    await expect(page.get_by_role("status")).to_have_text("Internal note added.")
    note = page.locator(".note")
    await expect(note).to_contain_text("Internal note")
    await expect(note).to_contain_text("VIP: answer within the hour.")

    # Ctrl+/ in the reply box, filter as you type, Enter inserts the filled-in reply.
    reply = page.get_by_label("Reply to the user")
    await reply.focus()
    await reply.press("Control+/")
    await page.get_by_label("Filter canned replies").type("gre")
    await expect(page.get_by_role("option")).to_have_count(1)
    await page.get_by_label("Filter canned replies").press("Enter")
    await expect(reply).to_have_value("Hi Ada, Alex here.")
    await expect(reply).to_be_focused()
    await assert_readable(page)
    await screenshot(page, "ticket-note-and-canned")
    await reply.press("Control+Enter")
    await expect(page.get_by_role("status")).to_have_text("Reply sent.")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Hi Ada, Alex here."
    user_view = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()
    assert "VIP: answer within the hour." not in str(user_view)
