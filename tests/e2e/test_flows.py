"""The flows that involve people, end to end: a user writes over HTTP, the AI and the
router act over Kafka, agents work the queue over its API, and the user gets the answer."""

from __future__ import annotations

import json
from typing import Any

from pymongo import AsyncMongoClient

from baton_contracts import MessageSent, RouteDecided, ThreadAssigned
from baton_runtime import Document
from tests.support.pipeline import Pipeline
from tests.support.queue import AgentClient, department, new_agent, reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually


async def agent(pipeline: Pipeline, name: str, *departments: str) -> AgentClient:
    return await new_agent(pipeline.queue, pipeline.admin_token, name, *departments)


async def admin_get(pipeline: Pipeline, path: str, **params: Any) -> Any:
    response = await pipeline.queue.get(
        path, params=params, headers={"Authorization": f"Bearer {pipeline.admin_token}"}
    )
    assert response.status_code == 200, response.text
    return response


async def visible(pipeline: Pipeline, thread_id: str) -> list[dict[str, Any]]:
    response = await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def test_the_ai_asks_a_person_and_finishes_its_reply_with_the_answer(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    tok = token()
    await pipeline.script(
        {
            "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {
                "tool_calls": [
                    {
                        "name": "ask_human",
                        "arguments": {"question": "Did order 77 ship?", "context": "order 77"},
                    }
                ]
            },
        },
        reply_rule(tok, "Good news: {tool_result}", 0.9, has_tool_result=True),
    )
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    asked = await pipeline.say(thread_id, f"Where is order 77? {tok}")

    [ticket] = await alex.wait_for_ticket(thread_id, kind="question")
    assert ticket["question"] == "Did order 77 ship?"
    assert ticket["context"] == "order 77"
    assert ticket["tool_call_id"]
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []

    await alex.act(ticket["ticket_id"], "claim")
    detail = await alex.ticket(ticket["ticket_id"])
    assert detail["ai"]["question"] == "Did order 77 ship?"
    [user, tool_call] = detail["messages"]
    assert (user["role"], user["message_id"]) == ("user", str(asked))
    assert tool_call["content"][0]["tool_name"] == "ask_human"
    assert tool_call["visible_to_user"] is False
    answered = await alex.act(ticket["ticket_id"], "answer", {"text": "It shipped on Monday."})
    assert (answered["status"], answered["resolution"]["action"]) == ("resolved", "answer")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.text, sent.provider, sent.in_reply_to) == (
        "Good news: It shipped on Monday.",
        "openai",
        asked,
    )
    result = await mongo_client[pipeline.mongo.database]["messages"].find_one(
        {"thread_id": thread_id, "role": "tool"}
    )
    assert result is not None
    assert result["metadata"]["provider"] == "human"
    assert result["metadata"]["provider_metadata"]["human"]["name"] == "Alex"
    assert result["content"][0]["result"] == "It shipped on Monday."
    assert [m["role"] for m in await visible(pipeline, thread_id)] == ["user", "assistant"]

    # The same answer again: the ticket is done, nothing new is sent.
    again = await alex.post(
        f"/v1/tickets/{ticket['ticket_id']}/answer", {"text": "It shipped on Monday."}
    )
    assert again.status_code == 200
    lines = (await admin_get(pipeline, "/v1/admin/feedback.jsonl")).text.splitlines()
    [feedback] = [
        json.loads(line) for line in lines if json.loads(line)["ticket_id"] == ticket["ticket_id"]
    ]
    assert (feedback["kind"], feedback["human_text"]) == ("answer", "It shipped on Monday.")
    assert feedback["ai_output"]["text"] == "Did order 77 ship?"
    assert feedback["ai_output"]["tool_call_id"] == ticket["tool_call_id"]
    assert len(pipeline.recorder.events(MessageSent, in_thread(thread_id))) == 1


async def test_an_approved_draft_reaches_the_user_as_edited(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "Your refund of 20 EUR is on its way."))
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want a refund {tok}")

    [ticket] = await alex.wait_for_ticket(thread_id, kind="approval")
    assert ticket["draft_text"] == "Your refund of 20 EUR is on its way."
    assert ticket["reason"] == "sensitive topic: refund"
    assert ticket["priority"] == 30
    assert [m["role"] for m in await visible(pipeline, thread_id)] == ["user"]

    await alex.act(ticket["ticket_id"], "claim")
    approved = await alex.act(
        ticket["ticket_id"], "approve", {"text": "Your refund of 25 EUR is on its way."}
    )
    assert approved["status"] == "resolved"

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Your refund of 25 EUR is on its way."
    assert str(sent.message_id) == ticket["draft_message_id"]
    assert [m["text"] for m in await visible(pipeline, thread_id)][1:] == [
        "Your refund of 25 EUR is on its way."
    ]
    everything = (await alex.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert everything[-1]["status"] == "approved"

    lines = (await admin_get(pipeline, "/v1/admin/feedback.jsonl")).text.splitlines()
    [feedback] = [
        json.loads(line) for line in lines if json.loads(line)["ticket_id"] == ticket["ticket_id"]
    ]
    assert (feedback["kind"], feedback["edited"]) == ("approval", True)
    assert feedback["human_text"] == "Your refund of 25 EUR is on its way."
    assert feedback["ai_output"]["text"] == "Your refund of 20 EUR is on its way."
    assert feedback["ai_output"]["message_id"] == ticket["draft_message_id"]
    assert feedback["agent"]["name"] == "Alex"

    report = (await admin_get(pipeline, "/v1/admin/labour")).json()
    [row] = [t for t in report["tickets"] if t["ticket_id"] == ticket["ticket_id"]]
    assert row["resolved_by"] == alex.agent_id
    assert [(c["agent_name"], c["outcome"]) for c in row["claims"]] == [("Alex", "resolved")]
    assert row["time_to_claim_ms"] >= 0
    assert row["handling_ms"] >= 0
    [mine] = [a for a in report["agents"] if a["agent_id"] == alex.agent_id]
    assert (mine["claims"], mine["resolved"]) == (1, 1)


async def test_a_rejected_draft_follows_the_fallback(pipeline: Pipeline) -> None:
    tok = token()
    await pipeline.script(
        reply_rule(
            tok, "Better: refund approved for order 7.", any_message="rejected your previous draft"
        ),
        reply_rule(tok, "Refund? Sure, whatever."),
    )
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"refund please {tok}")

    [first] = await alex.wait_for_ticket(thread_id, kind="approval")
    await alex.act(first["ticket_id"], "claim")
    await alex.act(first["ticket_id"], "reject", {"review": "Too casual"})

    async def regenerated() -> list[dict[str, Any]] | None:
        found = await alex.tickets(thread_id=thread_id, kind="approval")
        return [t for t in found if t["ticket_id"] != first["ticket_id"]] or None

    [second] = await eventually(regenerated, what="the regenerated draft's ticket")
    assert second["draft_text"] == "Better: refund approved for order 7."
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []
    await alex.act(second["ticket_id"], "claim")
    await alex.act(second["ticket_id"], "approve")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "Better: refund approved for order 7."
    lines = (await admin_get(pipeline, "/v1/admin/feedback.jsonl")).text.splitlines()
    records = {json.loads(line)["ticket_id"]: json.loads(line) for line in lines}
    assert (records[first["ticket_id"]]["kind"], records[first["ticket_id"]]["review"]) == (
        "rejection",
        "Too casual",
    )
    assert records[second["ticket_id"]]["edited"] is False


async def test_a_person_takes_over_then_hands_the_thread_back_to_the_ai(
    pipeline: Pipeline,
) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "We open at 9 am."))
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {tok}")

    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    await alex.act(ticket["ticket_id"], "claim")
    await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.agent_id == alex.agent_id
    )
    await alex.act(ticket["ticket_id"], "reply", {"text": "Hi, Alex here. How can I help?"})
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.agent_name, sent.provider) == ("Alex", "human")
    shown = await visible(pipeline, thread_id)
    assert [(m["role"], m["agent_name"]) for m in shown] == [("user", None), ("assistant", "Alex")]

    resolved = await alex.act(ticket["ticket_id"], "resolve", {"handback": "ai"})
    assert resolved["resolution"]["handback"] == "ai"
    [back] = await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.owner == "ai"
    )
    assert back.previous_owner == "human"
    assert (await pipeline.ingest.get(f"/v1/threads/{thread_id}")).json()["owner"] == "ai"

    later = await pipeline.say(thread_id, f"When do you open? {tok}")
    [route] = await pipeline.recorder.wait_for(RouteDecided, lambda e: e.message_id == later)
    assert route.handler == "ai"
    replies = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id), count=2)
    assert (replies[1].text, replies[1].provider, replies[1].in_reply_to) == (
        "We open at 9 am.",
        "openai",
        later,
    )
    assert await alex.tickets(thread_id=thread_id) == []


async def test_an_escalation_carries_the_ai_suggestion_and_people_can_keep_the_thread(
    pipeline: Pipeline,
) -> None:
    tok = token()
    await pipeline.script(reply_rule(tok, "Maybe restart the router?", 0.3))
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"My router blinks red {tok}")

    [ticket] = await alex.wait_for_ticket(thread_id, kind="escalation")
    assert ticket["suggestion"] == "Maybe restart the router?"
    assert ticket["confidence"] == 0.3
    assert "low confidence" in ticket["reason"]
    await alex.act(ticket["ticket_id"], "claim")
    await alex.act(ticket["ticket_id"], "reply", {"text": "Please hold the reset button 10 s."})
    await alex.act(ticket["ticket_id"], "resolve", {"handback": "none"})

    lines = (await admin_get(pipeline, "/v1/admin/feedback.jsonl")).text.splitlines()
    [feedback] = [
        json.loads(line) for line in lines if json.loads(line)["ticket_id"] == ticket["ticket_id"]
    ]
    assert feedback["kind"] == "reply"
    assert feedback["ai_output"] == {
        "kind": "suggestion",
        "text": "Maybe restart the router?",
        "message_id": None,
        "request_id": ticket["request_id"],
        "tool_call_id": None,
        "reason": ticket["reason"],
    }

    # People keep the thread: the next message opens a new conversation ticket.
    await pipeline.say(thread_id, f"It still blinks {tok}")
    [follow_up] = await alex.wait_for_ticket(thread_id, kind="conversation")
    assert follow_up["ticket_id"] != ticket["ticket_id"]
    sent = pipeline.recorder.events(MessageSent, in_thread(thread_id))
    assert [(e.text, e.provider) for e in sent] == [("Please hold the reset button 10 s.", "human")]
