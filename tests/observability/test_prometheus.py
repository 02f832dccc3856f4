"""A real Prometheus scrapes the running services through an end-to-end run; then every
dashboard panel and every rule is evaluated against what it collected.

Each expression must parse, every metric it names must be one the services export (a
dashboard naming a metric nobody exports fails here), every series selector must find
series, and every panel must show data. Every counter and histogram the dashboards use
must have moved during the run, so a panel cannot pass on a metric frozen at zero.

In tests the services share one process and so one metrics registry: each job's
/metrics shows every service's metrics. Scraping each service as its own job still
makes ``job``-based queries work as in production.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from baton_contracts import (
    MessageSent,
    RouteDecided,
    TicketLeaseExpired,
    TicketSlaBreached,
    topics,
    utc_now,
)
from baton_runtime import Document
from tests.support.pipeline import ACTIONS, Pipeline
from tests.support.queue import AgentClient, department, new_agent, reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually
from tests.support.webhooks import webhook_receivers

from .prometheus import Prometheus, Tools, running_prometheus
from .promql import Query, panel_queries, recorded_names, rule_files, rule_queries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

JOBS = ("ingest", "router", "ai-responder", "human-queue")

NOT_MOVED_BY_THE_RUN = {
    # Retries need MongoDB or Kafka to fail inside a handler (tests/faults does that);
    # the series exist at zero from start-up, so the panels still find them.
    "baton_handler_retries_total",
}


@pytest.fixture
async def prometheus(
    prometheus_tools: Tools, pipeline: Pipeline, tmp_path: Path
) -> AsyncIterator[Prometheus]:
    targets = {job: pipeline.urls[job] for job in JOBS}
    async with running_prometheus(
        prometheus_tools, targets=targets, rule_files=rule_files(), workdir=tmp_path
    ) as server:
        yield server


async def test_every_panel_and_rule_finds_data(
    prometheus: Prometheus, pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    async def all_up() -> bool:
        ups = await prometheus.result("up")
        return {r["metric"]["job"] for r in ups if r["value"][1] == "1"} == set(JOBS)

    # Counters are seen before the run moves them, so rates over the run are not zero.
    await eventually(all_up, timeout=60, what="prometheus to scrape all four services")

    await drive_every_metric(pipeline, mongo_client)

    panels = panel_queries()
    rules = rule_queries()
    used = {name for query in panels for name in query.metrics}
    moved = sorted(
        name
        for name in used
        if name.endswith(("_total", "_bucket", "_count", "_sum"))
        and name not in NOT_MOVED_BY_THE_RUN
    )

    report: list[str] = []

    async def checked() -> bool:
        report[:] = await problems(prometheus, [*panels, *rules], moved)
        return not report

    try:
        await eventually(checked, timeout=90, what="every panel and rule to find data")
    except AssertionError:
        pytest.fail("\n".join(report), pytrace=False)
    await rules_evaluated(prometheus, rules)
    assert len(panels) >= 40
    assert len(rules) >= 8


async def problems(prometheus: Prometheus, queries: list[Query], moved: list[str]) -> list[str]:
    """Everything wrong with ``queries`` against what Prometheus holds now."""
    found: list[str] = []
    exported = await prometheus.metric_names()
    recorded = recorded_names()
    selected: dict[str, bool] = {}
    for query in queries:
        answer = await prometheus.query(query.expr)
        if answer["status"] != "success":
            found.append(f"{query.source}: {answer.get('error')}: {query.expr}")
            continue
        unknown = sorted(query.metrics - exported - recorded)
        if unknown:
            found.append(f"{query.source}: names {unknown}, which no service exports")
            continue
        for selector in query.selectors:
            key = str(selector)
            if key not in selected:
                selected[key] = bool(await prometheus.result(key))
            if not selected[key]:
                found.append(f"{query.source}: {key} selects no series")
        if query.kind == "panel" and not _has_a_number(answer["data"]["result"]):
            found.append(f"{query.source}: no data: {query.expr}")
    for name in moved:
        if name not in exported:
            continue  # reported above
        total = await prometheus.value(f"sum({name})")
        if not total:
            found.append(f"{name} did not move during the run (sum {total})")
    return found


def _has_a_number(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(sample["value"][1])) for sample in result)


async def rules_evaluated(prometheus: Prometheus, rules: list[Query]) -> None:
    """Prometheus loaded every rule and evaluates each without error."""

    async def evaluated() -> list[dict[str, Any]] | None:
        groups = (await prometheus.api("/api/v1/rules"))["groups"]
        loaded = [rule for group in groups for rule in group["rules"]]
        done = all(rule["health"] != "unknown" for rule in loaded)
        return loaded if done and len(loaded) == len(rules) else None

    loaded = await eventually(evaluated, timeout=30, what="every rule to be evaluated")
    unhealthy = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
    assert unhealthy == []


# ---------------------------------------------------------------- the run


async def drive_every_metric(pipeline: Pipeline, mongo: AsyncMongoClient[Document]) -> None:
    """AI replies, a tool call, a question a person answers, drafts approved (as written and edited) and
    rejected, a reply to a gateway's webhook that fails once, a person's conversation with a handback, a transfer to an auto-assigned department, an LLM outage, an SLA breach, a
    lapsed claim, a dead letter and a document a sweep cannot read."""
    dept = department()
    # Patient agents: on a shared two-core machine a request can wait for a ticket's lock.
    async with httpx.AsyncClient(base_url=pipeline.urls["human-queue"], timeout=30) as http:
        ada = await new_agent(http, pipeline.admin_token, "Ada", dept)
        bo = await new_agent(http, pipeline.admin_token, "Bo", dept)

        await ai_reply(pipeline, dept)
        await tool_called(pipeline)
        await webhook_delivered_after_a_retry(pipeline, dept)
        await question_answered(pipeline, ada, dept)
        await drafts_reviewed(pipeline, ada, dept)
        await conversation_with_a_person(pipeline, bo, dept)
        await moving_work(pipeline, http, ada, dept)
        escalation = await llm_outage(pipeline, ada, dept)
        await sla_breach_and_lapsed_claim(pipeline, mongo, ada, escalation)
        await dead_letter(pipeline)
        await unreadable_note(pipeline, mongo)


async def act(agent: AgentClient, ticket_id: str, action: str, body: Any = None) -> None:
    """``agent.act`` that retries what the API says to retry (503 ticket_busy) and requests
    that timed out; every action is safe to repeat (a reply under its Idempotency-Key)."""
    key = {"Idempotency-Key": token()}

    async def done() -> bool:
        try:
            response = await agent.post(f"/v1/tickets/{ticket_id}/{action}", body, headers=key)
        except httpx.TimeoutException:
            return False
        if response.status_code == 503:
            return False
        assert response.status_code == 200, f"{action}: {response.status_code} {response.text}"
        return True

    await eventually(done, timeout=90, what=f"{action} on ticket {ticket_id}")


async def ai_reply(pipeline: Pipeline, dept: str) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "We open at 9 am."))
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"When do you open? {tok}")
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))


async def tool_called(pipeline: Pipeline) -> None:
    """The AI looks an order up through the session's tools file (its tools serve the
    ``actions`` department only), then replies."""
    tok = token()
    await pipeline.script(
        {
            "name": f"tool-{tok}",
            "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {"tool_calls": [{"name": "order_status", "arguments": {"order_id": tok}}]},
        },
        reply_rule(tok, "It is on its way.", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    await pipeline.say(thread_id, f"Where is my order? {tok}")
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))


async def webhook_delivered_after_a_retry(pipeline: Pipeline, dept: str) -> None:
    admin = {"Authorization": f"Bearer {pipeline.admin_token}"}
    body = {"name": f"hooked {token()}", "channels": ["web"]}
    created = await pipeline.ingest.post("/v1/admin/gateways", json=body, headers=admin)
    assert created.status_code == 201, created.text
    gateway = created.json()
    async with webhook_receivers() as receivers:
        url, endpoint = receivers.endpoint(gateway["gateway_id"])
        endpoint.script = [500]
        hook = await pipeline.ingest.put(
            f"/v1/admin/gateways/{gateway['gateway_id']}/webhook", json={"url": url}, headers=admin
        )
        assert hook.status_code == 201, hook.text
        endpoint.secret = hook.json()["secret"]
        tok = token()
        await pipeline.script(reply_rule(tok, "We close at 6 pm."))
        key = {"Authorization": f"Bearer {gateway['key']}"}
        opened = await pipeline.ingest.post(
            "/v1/threads", json={"user_id": f"u-{tok}", "department": dept}, headers=key
        )
        assert opened.status_code == 201, opened.text
        thread_id = opened.json()["thread_id"]
        said = await pipeline.ingest.post(
            f"/v1/threads/{thread_id}/messages",
            json={"text": f"When do you close? {tok}"},
            headers=key,
        )
        assert said.status_code == 202, said.text

        async def delivered() -> bool:
            return len(endpoint.delivered) == 1 and len(endpoint.requests) == 2

        await eventually(delivered, what="the reply at the webhook, after one 500")


async def question_answered(pipeline: Pipeline, ada: AgentClient, dept: str) -> None:
    tok = token()
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {
                "tool_calls": [{"name": "ask_human", "arguments": {"question": "Shipped?"}}]
            },
        },
        reply_rule(tok, "It shipped: {tool_result}", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=dept, channel="whatsapp")
    await pipeline.say(thread_id, f"Where is my order? {tok}")
    [ticket] = await ada.wait_for_ticket(thread_id, kind="question")
    await act(ada, ticket["ticket_id"], "claim")
    await act(ada, ticket["ticket_id"], "answer", {"text": "on Monday"})
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))


async def drafts_reviewed(pipeline: Pipeline, ada: AgentClient, dept: str) -> None:
    """One draft approved with an edit; another rejected, then its rewrite approved."""
    tok = token()
    await pipeline.script(reply_rule(tok, "Your refund of 20 EUR is on its way."))
    edited = await pipeline.new_thread(department=dept)
    await pipeline.say(edited, f"I want a refund {tok}")
    [ticket] = await ada.wait_for_ticket(edited, kind="approval")
    await act(ada, ticket["ticket_id"], "claim")
    await act(ada, ticket["ticket_id"], "approve", {"text": "Your refund of 25 EUR is on its way."})
    await pipeline.recorder.wait_for(MessageSent, in_thread(edited))

    tok = token()
    await pipeline.script(reply_rule(tok, "Refund? Sure, whatever."))
    rejected = await pipeline.new_thread(department=dept)
    await pipeline.say(rejected, f"refund please {tok}")
    [first] = await ada.wait_for_ticket(rejected, kind="approval")
    await act(ada, first["ticket_id"], "claim")
    await act(ada, first["ticket_id"], "reject", {"review": "Too casual"})

    async def rewritten() -> list[dict[str, Any]] | None:
        found = await ada.tickets(thread_id=rejected, kind="approval")
        return [t for t in found if t["ticket_id"] != first["ticket_id"]] or None

    [second] = await eventually(rewritten, what="the rewritten draft's ticket")
    await act(ada, second["ticket_id"], "claim")
    await act(ada, second["ticket_id"], "approve")
    await pipeline.recorder.wait_for(MessageSent, in_thread(rejected))


async def conversation_with_a_person(pipeline: Pipeline, bo: AgentClient, dept: str) -> None:
    """A user asks for a person, Bo replies, the user writes again (added to the open
    ticket), Bo hands the thread back to the AI, and the user rates the conversation."""
    thread_id = await pipeline.new_thread(department=dept, channel="email")
    await pipeline.say(thread_id, "I want to talk to a human")
    [ticket] = await bo.wait_for_ticket(thread_id, kind="conversation")
    await act(bo, ticket["ticket_id"], "claim")
    await act(bo, ticket["ticket_id"], "reply", {"text": "Hi, Bo here."})
    await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))

    later = await pipeline.say(thread_id, "Thanks Bo, one more thing")
    await pipeline.recorder.wait_for(RouteDecided, lambda e: e.message_id == later)

    async def attached() -> bool:
        detail = await bo.ticket(ticket["ticket_id"])
        return str(later) in detail["ticket"]["message_ids"]

    await eventually(attached, what="the second message on the open ticket")
    await act(bo, ticket["ticket_id"], "resolve", {"handback": "ai"})
    # The user rates the conversation, which goes to Bo (baton_csat_ratings_total).
    rated = await pipeline.ingest.post(f"/v1/threads/{thread_id}/rating", json={"score": 5})
    assert rated.status_code == 201, rated.text


async def moving_work(
    pipeline: Pipeline, http: httpx.AsyncClient, ada: AgentClient, dept: str
) -> None:
    """An agent comes online in an auto-assigned department and is handed a ticket; Ada
    transfers a conversation there."""
    auto = department()
    admin = {"Authorization": f"Bearer {pipeline.admin_token}"}
    policy = await http.put(
        f"/v1/admin/departments/{auto}", json={"policy": "least_busy"}, headers=admin
    )
    assert policy.status_code == 200, policy.text
    cy = await new_agent(http, pipeline.admin_token, "Cy", auto)
    online = await http.put("/v1/agents/me/status", json={"status": "online"}, headers=cy.headers)
    assert online.status_code == 200, online.text
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, "I want to talk to a human")
    [ticket] = await ada.wait_for_ticket(thread_id, kind="conversation")
    await act(ada, ticket["ticket_id"], "claim")
    await act(ada, ticket["ticket_id"], "transfer", {"department": auto, "note": "For Cy."})

    async def handed_to_cy() -> bool:
        status: str = (await cy.ticket(ticket["ticket_id"]))["ticket"]["status"]
        return status == "assigned"

    await eventually(handed_to_cy, what="the transferred ticket auto-assigned to Cy")


async def llm_outage(pipeline: Pipeline, ada: AgentClient, dept: str) -> dict[str, Any]:
    tok = token()
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "assistant_reply"},
            "respond": {"error": {"status": 503, "message": "overloaded"}},
        }
    )
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"anyone there? {tok}")
    [ticket] = await ada.wait_for_ticket(thread_id, kind="escalation")
    assert ticket["reason"] == "llm_unavailable"
    return ticket


async def sla_breach_and_lapsed_claim(
    pipeline: Pipeline,
    mongo: AsyncMongoClient[Document],
    ada: AgentClient,
    ticket: dict[str, Any],
) -> None:
    """The session's queue has SLAs of minutes and leases of ten: move this ticket's due
    time, then its lease's end, into the past, and let the queue's sweep find them."""
    tickets = mongo[pipeline.mongo.database]["tickets"]
    ticket_id = ticket["ticket_id"]
    past = utc_now() - timedelta(seconds=1)

    async def breached() -> list[TicketSlaBreached]:
        # Again on every poll: a write racing the sweep's could undo it.
        await tickets.update_one(
            {"_id": ticket_id, "sla_breached": False}, {"$set": {"sla_due_at": past}}
        )
        return pipeline.recorder.events(TicketSlaBreached, lambda e: e.ticket_id == ticket_id)

    await eventually(breached, timeout=30, what="the SLA breach")

    await act(ada, ticket_id, "claim")

    async def lapsed() -> list[TicketLeaseExpired]:
        await tickets.update_one(
            {"_id": ticket_id, "status": "assigned"}, {"$set": {"lease_expires_at": past}}
        )
        return pipeline.recorder.events(TicketLeaseExpired, lambda e: e.ticket_id == ticket_id)

    await eventually(lapsed, timeout=30, what="the lapsed claim")


async def dead_letter(pipeline: Pipeline) -> None:
    key = token().encode()
    await pipeline.publish_raw(topics.MESSAGE_SUBMITTED, b"{not json", key=key)
    dlq = topics.dead_letter_topic(topics.MESSAGE_SUBMITTED)
    await pipeline.recorder.wait_for_raw(dlq, lambda s: s.key == key)


async def unreadable_note(pipeline: Pipeline, mongo: AsyncMongoClient[Document]) -> None:
    """A message whose outbox Baton did not write: ingest's sweep leaves it out and counts
    it."""
    messages = mongo[pipeline.mongo.database]["messages"]

    def count() -> float:
        labels = {"reader": "outbox sweep of messages", "kind": "follow-up"}
        return REGISTRY.get_sample_value("baton_unreadable_documents_total", labels) or 0.0

    before = count()
    doc_id = f"!unreadable-{token()}"
    await messages.insert_one(
        {"_id": doc_id, "outbox": [{"no": "entry"}], "outbox_at": utc_now() - timedelta(minutes=1)}
    )

    async def counted() -> bool:
        return count() > before

    try:
        await eventually(counted, timeout=30, what="the sweep to count the unreadable outbox")
    finally:
        await messages.delete_one({"_id": doc_id})
