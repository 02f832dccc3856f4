"""The web chat in a real headless Chromium, on a running pipeline: a customer opens /chat
with the gateway key in the link's fragment, sees the AI's reply as it is written, is
handed to a person with a notice, reads the agent's reply under the agent's name, and rates
the conversation. The agent works through the human-queue API, as a tool would.

The page uses the gateway API only, with the key it was given: what it shows is what any
gateway built on that API can show. Screenshots go to test-artifacts/chat/.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Request, expect
from pymongo import AsyncMongoClient

from baton_contracts import MessageSent, ThreadRated
from baton_runtime import Document, KafkaSettings, MongoSettings
from tests.conftest import STREAMING_AI
from tests.support.browser import contrast_failures, screenshot
from tests.support.infra import Endpoints
from tests.support.pipeline import Pipeline, running_pipeline
from tests.support.queue import department, new_agent, reply_rule, token
from tests.support.recorder import in_thread

pytestmark = pytest.mark.timeout(900)

# Every notice on, the rating prompt too (the session's pipeline turns them all off).
NOTICES = json.dumps({"disable": []})
STREAMS = "**/v1/threads/*/stream"

# Every state a reply's bubble is seen in, in order: a MutationObserver records the text of
# each bubble whenever the page changes it. Installed before the page's own scripts run
# (Playwright injects it past the page's Content-Security-Policy).
RECORD_FRAMES = """
window.chatFrames = [];
new MutationObserver(() => {
  for (const item of document.querySelectorAll("#log > li[data-message-id]")) {
    const text = item.querySelector(".text")?.textContent ?? "";
    const frame = { id: item.dataset.messageId, state: item.dataset.state, text };
    const last = window.chatFrames.findLast((f) => f.id === frame.id);
    if (!last || last.state !== frame.state || last.text !== frame.text) window.chatFrames.push(frame);
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


# The page's own modules, driven directly: how replies, their pieces and the history merge,
# and how the stream's bytes become events, whatever the network's timing.
MERGING = r"""
async () => {
  const { conversation } = await import("./chat/conversation.js");
  const { eventParser } = await import("./chat/stream.js");
  const list = document.createElement("ol");
  const view = conversation(list, { rate: async () => "" });
  const shown = () =>
    [...list.children].map((li) => [li.className, li.dataset.state, li.querySelector(".text").textContent]);
  const ai = { message_id: "m1", in_reply_to: "u1", agent_name: "Baton AI" };
  const steps = [];
  view.delta({ ...ai, sequence: 0, text: "We open" });
  view.delta({ ...ai, sequence: 2, text: " Monday." });
  steps.push(shown());
  view.delta({ ...ai, sequence: 1, text: " at 9," });
  view.delta({ ...ai, sequence: 1, text: " at 9," });
  steps.push(shown());
  view.delta({ ...ai, sequence: 0, text: "We are" });
  steps.push(shown());
  view.message({ ...ai, text: "We open at 9.", provider: "openai", notice: null });
  view.delta({ ...ai, sequence: 3, text: " Late piece." });
  steps.push(shown());
  view.history([
    { message_id: "u1", role: "user", text: "When?", agent_name: null, provider: null },
    { message_id: "m1", role: "assistant", text: "We open at 9.", agent_name: "Baton AI", provider: "openai" },
    { message_id: "n1", role: "assistant", text: "A person will answer.", agent_name: "Baton", provider: "baton" },
  ]);
  view.message({ message_id: "n1", text: "A person will answer.", agent_name: "Baton", provider: "baton", notice: "handoff" });
  steps.push(shown());

  const events = [];
  const parse = eventParser((event) => events.push(event));
  for (const chunk of [": keep-alive\n\nevent: del", "ta\r", "\nid: m1:0\r\ndata: {\"a\"", ":1}\n\n", "event: message\ndata: x\ndata: y\n\n"]) {
    parse(chunk);
  }
  return { steps, events };
}
"""


@pytest.fixture(scope="module")
async def chat(
    infra: Endpoints, mongo_client: AsyncMongoClient[Document]
) -> AsyncIterator[Pipeline]:
    """A pipeline of this module's own, on topics and a database of its own, as a customer
    meets it: AI replies stream as they are written, and Baton's notices are on."""
    namespace = f"c{uuid.uuid4().hex[:12]}"
    kafka = KafkaSettings(
        bootstrap_servers=infra.kafka_bootstrap_servers, topic_prefix=f"{namespace}."
    )
    mongo = MongoSettings(url=infra.mongodb_url, database=namespace)
    try:
        async with running_pipeline(
            kafka, mongo, ai=STREAMING_AI, human_queue={"notices": NOTICES}
        ) as running:
            yield running
    finally:
        await mongo_client.drop_database(namespace)


def chat_link(pipeline: Pipeline) -> str:
    key = urllib.parse.quote(pipeline.gateway["key"], safe="")
    return f"{pipeline.urls['ingest']}/chat#key={key}"


async def start_chat(context: BrowserContext, pipeline: Pipeline, name: str) -> Page:
    page = await context.new_page()
    await page.goto(chat_link(pipeline))
    await page.get_by_label("Your name (optional)").fill(name)
    await page.get_by_role("button", name="Start chatting").click()
    await expect(page.get_by_label("Your message")).to_be_focused()
    return page


async def say(page: Page, text: str) -> None:
    box = page.get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")
    await expect(page.locator(".msg-user").last).to_contain_text(text)
    await expect(box).to_have_value("")


async def thread_of(page: Page) -> str:
    thread_id: str = await page.evaluate("sessionStorage.getItem('baton.chat.thread')")
    assert thread_id
    return thread_id


async def test_the_chat_is_served_with_a_strict_content_policy(chat: Pipeline) -> None:
    http = chat.ingest
    page = await http.get("/chat")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    # Sent with the key, the page is still the same file: the key is never written into it.
    assert chat.gateway["key"] not in page.text
    script = await http.get("/chat/app.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    missing = await http.get("/chat/router.py")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_a_customer_chats_with_the_ai_then_with_a_person_and_rates_them(
    chat: Pipeline, context: BrowserContext
) -> None:
    tok = token()
    reply = f"We open at 9 am and close at 5 pm, Monday to Friday. ({tok})"
    # Written a token (four characters) at a time, as a model writes.
    await chat.script({**reply_rule(tok, reply), "tokens_per_s": 20})
    alex = await new_agent(chat.queue, chat.admin_token, "Alex", department())
    await context.add_init_script(script=RECORD_FRAMES)
    requests: list[str] = []
    violations: list[str] = []

    def record(request: Request) -> None:
        requests.append(f"{request.method} {request.url} {request.headers.get('referer', '')}")

    context.on("request", record)
    context.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )

    page = await start_chat(context, chat, "Ada")
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    # The key left the address bar as soon as the page read it, and no request carried it
    # anywhere but in its Authorization header.
    assert "#" not in page.url
    assert not [r for r in requests if chat.gateway["key"] in r]
    thread_id = await thread_of(page)

    # The AI's reply, shown while it is written: pieces of it before the whole.
    await say(page, f"When are you open? {tok}")
    answer = page.locator(".msg-ai").last
    await expect(answer.locator(".text")).to_have_text(reply)
    await expect(answer).to_have_attribute("data-state", "final")
    await expect(answer.locator(".name")).to_have_text("Baton AI")
    [sent] = await chat.recorder.wait_for(MessageSent, in_thread(thread_id))
    frames: list[dict[str, Any]] = await page.evaluate("window.chatFrames")
    mine = [f for f in frames if f["id"] == str(sent.message_id)]
    streamed = [f["text"] for f in mine if f["state"] == "streaming"]
    # Growing, each a beginning of the reply, the first of them only part of it.
    assert streamed, f"no piece of the reply was shown before the whole: {mine}"
    assert all(reply.startswith(text) for text in streamed), mine
    assert streamed == sorted(streamed, key=len)
    assert len(streamed[0]) < len(reply)
    assert mine[-1] == {"id": str(sent.message_id), "state": "final", "text": reply}

    # Asking for a person: a notice, not a chat bubble, while the customer waits.
    await say(page, f"I want to talk to a human {tok}")
    await expect(page.locator('.notice[data-notice="handoff"]')).to_contain_text(
        "passed your conversation to our support team"
    )
    # The same customer in a duplicated tab (sessionStorage is copied with it).
    twin = await duplicate(context, chat, page)
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    await alex.act(ticket["ticket_id"], "claim")
    await expect(page.locator('.notice[data-notice="agent_joined"]')).to_contain_text("Alex")
    await alex.act(ticket["ticket_id"], "reply", {"text": "Hi Ada, Alex here. How can I help?"})

    # The agent's reply, under the agent's name.
    human = page.locator(".msg-human").last
    await expect(human.locator(".text")).to_have_text("Hi Ada, Alex here. How can I help?")
    await expect(human.locator(".name")).to_have_text("Alex")
    await expect(human.locator(".badge")).to_have_text("support agent")
    assert await page.locator(".msg").count() == 4  # the notices are no one's bubbles

    # Resolved: the customer is asked for a rating, and gives one with a comment.
    await alex.act(ticket["ticket_id"], "resolve", {"handback": "none"})
    await expect(page.locator('.notice[data-notice="resolved"]')).to_be_visible()
    rating = page.locator('.notice[data-notice="rating"]')
    await rating.get_by_label("Anything to add? (optional)").fill("Quick and kind.")
    assert await contrast_failures(page) == []
    await screenshot(page, "conversation", folder="chat")
    await rating.get_by_role("button", name="5 out of 5").click()
    await expect(rating.get_by_role("status")).to_have_text(
        "Thank you: you rated this conversation 5 out of 5."
    )
    [rated] = await chat.recorder.wait_for(ThreadRated, in_thread(thread_id))
    assert (rated.score, rated.comment, rated.resolved_by) == (5, "Quick and kind.", "human")

    # The other tab rates too: the API refuses a second rating, and the page says so kindly.
    other = twin.locator('.notice[data-notice="rating"]')
    await other.get_by_role("button", name="2 out of 5").click()
    await expect(other.get_by_role("status")).to_have_text(
        "This conversation has been rated already. Thank you!"
    )
    await expect(twin.locator("#alert")).to_be_empty()
    assert len(chat.recorder.events(ThreadRated, in_thread(thread_id))) == 1

    # Read back from the history after a reload: the same conversation, each message once,
    # the notices still notices, and the answered rating prompt thanked rather than asked.
    kinds = ["handoff", "agent_joined", "resolved", "rating"]
    for shown in (page, twin):
        await shown.reload()
        await expect(shown.locator(".msg")).to_have_count(4)
        await expect(shown.locator(".notice")).to_have_count(len(kinds))
        for kind in kinds:
            await expect(shown.locator(f'.notice[data-notice="{kind}"]')).to_have_count(1)
        await expect(shown.locator('.notice[data-notice="rating"] .rating-outcome')).to_have_text(
            "Thank you for your rating."
        )
    assert violations == []


async def test_a_wrong_key_is_refused_and_the_page_asks_for_one(
    chat: Pipeline, context: BrowserContext
) -> None:
    page = await context.new_page()
    await page.goto(f"{chat.urls['ingest']}/chat#key=bgw_not-a-key")
    await page.get_by_role("button", name="Start chatting").click()
    await expect(page.locator("#alert")).to_have_text(
        "Error: the bearer token is not a valid gateway key"
    )
    key = page.get_by_label("Gateway key")
    await expect(key).to_be_focused()
    await key.fill(chat.gateway["key"])
    await key.press("Enter")
    await expect(page.get_by_label("Your message")).to_be_focused()
    await page.get_by_role("button", name="Forget key").click()
    await expect(page.get_by_label("Gateway key")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0


async def test_the_conversation_goes_on_while_the_stream_is_down(
    chat: Pipeline, context: BrowserContext
) -> None:
    alex = await new_agent(chat.queue, chat.admin_token, "Alex", department())
    page = await start_chat(context, chat, "Cy")
    live = page.locator("#live")
    await expect(live).to_have_attribute("data-state", "live")
    thread_id = await thread_of(page)
    await say(page, f"I want to talk to a human {token()}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    await alex.act(ticket["ticket_id"], "claim")

    # Every attempt to open the stream fails (the page is loaded again to drop the open one):
    # the page says so, shows the history all the same and keeps reading it.
    await page.route(STREAMS, lambda route: route.abort())
    await page.reload()
    await expect(live).to_have_attribute("data-state", "reconnecting")
    await expect(page.locator(".msg-user")).to_have_count(1)
    await alex.act(ticket["ticket_id"], "reply", {"text": "Alex here, while you were away."})
    await expect(page.locator(".msg-human .text")).to_have_text("Alex here, while you were away.")

    # The stream is back: the page is live again, and each message shows once.
    await page.unroute(STREAMS)
    await expect(live).to_have_attribute("data-state", "live")
    await alex.act(ticket["ticket_id"], "reply", {"text": "And now, live."})
    await expect(page.locator(".msg-human .text")).to_have_text(
        ["Alex here, while you were away.", "And now, live."]
    )


async def test_without_a_stream_route_the_page_reads_the_history(
    chat: Pipeline, context: BrowserContext
) -> None:
    """An ingest from before the stream route answers it 404 `not_found`: the chat still
    works, on the history alone."""
    tok = token()
    await chat.script(reply_rule(tok, f"We open at 9 am. ({tok})"))
    await context.route(
        STREAMS,
        lambda route: route.fulfill(status=404, json={"detail": "not found", "code": "not_found"}),
    )
    page = await start_chat(context, chat, "Di")
    await expect(page.locator("#live")).to_have_attribute("data-state", "polling")
    await say(page, f"When are you open? {tok}")
    await expect(page.locator(".msg-ai .text")).to_have_text(f"We open at 9 am. ({tok})")


async def duplicate(context: BrowserContext, pipeline: Pipeline, page: Page) -> Page:
    """A second tab on ``page``'s conversation, as the browser's "Duplicate tab" makes it."""
    stored = await page.evaluate("Object.fromEntries(Object.entries(sessionStorage))")
    twin = await context.new_page()
    await twin.goto(f"{pipeline.urls['ingest']}/chat")
    await twin.evaluate(
        "(stored) => Object.entries(stored).forEach(([k, v]) => sessionStorage.setItem(k, v))",
        stored,
    )
    await twin.reload()
    await expect(twin.locator("#live")).to_have_attribute("data-state", "live")
    return twin


async def test_pieces_of_replies_and_the_history_merge_by_message_id(
    chat: Pipeline, context: BrowserContext
) -> None:
    page = await context.new_page()
    await page.goto(f"{chat.urls['ingest']}/chat")
    result = await page.evaluate(MERGING)

    ai, user, notice = "msg msg-ai", "msg msg-user", "notice"
    assert result["steps"] == [
        # A piece out of order waits for the one before it.
        [[ai, "streaming", "We open"]],
        # ... and a piece that arrives twice counts once.
        [[ai, "streaming", "We open at 9, Monday."]],
        # A new attempt starts again at 0: it replaces the pieces before it.
        [[ai, "streaming", "We are"]],
        # The whole message replaces the pieces; a piece after it changes nothing.
        [[ai, "final", "We open at 9."]],
        # The history adds what the page had not seen, in its place, and nothing twice.
        [
            [user, "final", "When?"],
            [ai, "final", "We open at 9."],
            [notice, "final", "A person will answer."],
        ],
    ]
    assert result["events"] == [
        {"event": "delta", "id": "m1:0", "data": '{"a":1}'},
        {"event": "message", "id": "m1:0", "data": "x\ny"},
    ]
