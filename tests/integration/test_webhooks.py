"""Webhooks through the real ingest service, Kafka and MongoDB: a test receiver on a
loopback port checks every signature with the snippet docs/webhooks.md gives gateways, and counts
what it gets. The pipeline's ingest retries after tens of milliseconds and gives up after
three tries (tests/support/pipeline.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton_contracts import Event, MessageDelta, MessageSent, ThreadAssigned
from baton_runtime import MongoSettings
from tests.support.pipeline import ADMIN_TOKEN, Pipeline
from tests.support.queue import reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually
from tests.support.webhooks import Endpoint, Receivers, webhook_receivers

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CLI = Path(sys.executable).parent / "baton-ingest-admin"


@dataclass
class Hooked:
    """A gateway made for one test, with its webhook at a test endpoint."""

    gateway_id: str
    http: httpx.AsyncClient
    """Sends the gateway's key."""
    endpoint: Endpoint

    async def thread(self) -> str:
        response = await self.http.post("/v1/threads", json={"user_id": f"u-{token()}"})
        assert response.status_code == 201, response.text
        thread_id: str = response.json()["thread_id"]
        return thread_id

    async def deliveries(self, status: str | None = None) -> list[dict[str, Any]]:
        query = f"?status={status}" if status else ""
        path = f"/v1/admin/gateways/{self.gateway_id}/webhook/deliveries{query}"
        response = await self.http.get(path, headers=ADMIN)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["deliveries"]
        return found


@pytest.fixture(scope="module")
async def receivers() -> AsyncIterator[Receivers]:
    async with webhook_receivers() as running:
        yield running


@pytest.fixture
async def hooked(pipeline: Pipeline, receivers: Receivers) -> AsyncIterator[Any]:
    """Makes gateways with webhooks through the admin API; removes the webhooks after."""
    made: list[Hooked] = []

    async def make(events: list[str] | None = None) -> Hooked:
        admin = pipeline.ingest
        body = {"name": f"hooked {token()}", "channels": ["web"]}
        created = await admin.post("/v1/admin/gateways", json=body, headers=ADMIN)
        assert created.status_code == 201, created.text
        gateway = created.json()
        url, endpoint = receivers.endpoint(gateway["gateway_id"])
        hook = {"url": url, "events": events or ["message.sent"]}
        path = f"/v1/admin/gateways/{gateway['gateway_id']}/webhook"
        response = await admin.put(path, json=hook, headers=ADMIN)
        assert response.status_code == 201, response.text
        endpoint.secret = response.json()["secret"]
        http = httpx.AsyncClient(
            base_url=pipeline.urls["ingest"],
            timeout=10,
            headers={"Authorization": f"Bearer {gateway['key']}"},
        )
        made.append(Hooked(gateway["gateway_id"], http, endpoint))
        return made[-1]

    yield make
    for one in made:
        one.endpoint.release.set()
        path = f"/v1/admin/gateways/{one.gateway_id}/webhook"
        await pipeline.ingest.delete(path, headers=ADMIN)
        await one.http.aclose()


def sent(thread_id: str, text: str = "Hello") -> MessageSent:
    return MessageSent(
        correlation_id=uuid.uuid4(),
        thread_id=thread_id,
        message_id=uuid.uuid4(),
        text=text,
        agent_name="Baton",
        provider="openai",
    )


async def delivered(endpoint: Endpoint, *events: Event) -> None:
    wanted = {str(e.event_id) for e in events}

    async def arrived() -> bool:
        return wanted <= set(endpoint.delivered_ids())

    await eventually(arrived, what=f"{len(wanted)} deliveries")


async def test_the_reply_reaches_the_gateways_webhook_once_signed(
    pipeline: Pipeline, hooked: Any
) -> None:
    """The gateway setup of docs/api.md, by webhook: an AI reply arrives, signed, once,
    even when Kafka delivers its event again."""
    web: Hooked = await hooked()
    tok = token()
    await pipeline.script(reply_rule(tok, "We open at 9 am."))
    thread_id = await web.thread()
    posted = await web.http.post(
        f"/v1/threads/{thread_id}/messages", json={"text": f"When do you open? {tok}"}
    )
    assert posted.status_code == 202, posted.text

    [reply] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    await delivered(web.endpoint, reply)
    [seen] = web.endpoint.delivered
    assert seen.event["text"] == "We open at 9 am."
    assert seen.event_type == "message.sent"

    await pipeline.publish(reply)  # Kafka delivering the same event again
    marker = sent(thread_id)  # handled after it: same thread, same partition
    await pipeline.publish(marker)
    await delivered(web.endpoint, marker)

    assert web.endpoint.delivered_ids() == [str(reply.event_id), str(marker.event_id)]
    assert all(seen.verified for seen in web.endpoint.requests)
    assert len(web.endpoint.requests) == 2
    assert [d["status"] for d in await web.deliveries()] == ["delivered", "delivered"]


async def test_thread_status_changes_go_to_webhooks_that_ask_for_them(
    pipeline: Pipeline, hooked: Any
) -> None:
    both: Hooked = await hooked(["message.sent", "thread.assigned"])
    replies_only: Hooked = await hooked()
    events: dict[str, list[Event]] = {}
    for gateway in (both, replies_only):
        thread_id = await gateway.thread()
        change = ThreadAssigned(
            correlation_id=uuid.uuid4(), thread_id=thread_id, owner="human", reason="rule"
        )
        events[gateway.gateway_id] = [change, sent(thread_id)]
        await pipeline.publish(*events[gateway.gateway_id])

    await delivered(both.endpoint, *events[both.gateway_id])
    await delivered(replies_only.endpoint, events[replies_only.gateway_id][1])

    # Two topics, two consumers: the order between them is not promised (docs/webhooks.md).
    by_type = {s.event_type: s for s in both.endpoint.delivered}
    assert sorted(by_type) == ["message.sent", "thread.assigned"]
    assert len(both.endpoint.delivered) == 2
    assert by_type["thread.assigned"].event["owner"] == "human"
    assert [s.event_type for s in replies_only.endpoint.requests] == ["message.sent"]


async def test_an_endpoint_that_answers_500_gets_the_event_again(
    pipeline: Pipeline, hooked: Any
) -> None:
    flaky: Hooked = await hooked()
    flaky.endpoint.script = [500, 503]
    event = sent(await flaky.thread())

    await pipeline.publish(event)
    await delivered(flaky.endpoint, event)

    tries = flaky.endpoint.requests
    assert [s.event_id for s in tries] == [str(event.event_id)] * 3
    assert all(s.verified for s in tries)  # each try signed anew
    [delivery] = await flaky.deliveries()
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)


async def test_after_its_last_try_a_delivery_is_dead_until_redelivered(
    pipeline: Pipeline, hooked: Any
) -> None:
    down: Hooked = await hooked()
    down.endpoint.script = [500] * 6
    thread_id = await down.thread()
    first, second = sent(thread_id, "one"), sent(thread_id, "two")
    await pipeline.publish(first, second)

    async def dead() -> list[dict[str, Any]] | None:
        found = await down.deliveries("dead")
        return found if len(found) == 2 else None

    letters = await eventually(dead, what="two dead letters")
    assert [(d["attempts"], d["last_error"]) for d in letters] == [(3, "HTTP 500")] * 2
    assert down.endpoint.delivered == []

    code, out, err = await cli(
        pipeline.mongo, "webhooks", "redeliver", down.gateway_id, "--event-id", str(first.event_id)
    )
    assert (code, out.strip()) == (0, "redelivered 1"), err
    await delivered(down.endpoint, first)

    path = f"/v1/admin/gateways/{down.gateway_id}/webhook/redeliver"
    response = await pipeline.ingest.post(path, headers=ADMIN)
    assert response.json() == {"redelivered": 1}
    await delivered(down.endpoint, second)
    assert sorted(down.endpoint.delivered_ids()) == sorted(
        [str(first.event_id), str(second.event_id)]
    )
    assert await down.deliveries("dead") == []


async def test_a_hanging_endpoint_holds_up_no_other_gateway(
    pipeline: Pipeline, hooked: Any
) -> None:
    hanging: Hooked = await hooked()
    healthy: Hooked = await hooked()
    hanging.endpoint.script = ["hang"] * 20
    stuck = [sent(await hanging.thread()) for _ in range(4)]
    await pipeline.publish(*stuck)

    async def taken() -> bool:
        return hanging.endpoint.hanging > 0

    await eventually(taken, what="the hanging endpoint's first request")
    fine = [sent(await healthy.thread()) for _ in range(3)]
    await pipeline.publish(*fine)
    await delivered(healthy.endpoint, *fine)

    # Delivered while the other gateway's endpoint had answered nothing, its deliveries
    # all still pending.
    assert hanging.endpoint.delivered == []
    assert {d["status"] for d in await hanging.deliveries()} == {"pending"}


async def test_the_admin_api_sets_shows_rotates_and_removes_a_webhook(
    pipeline: Pipeline, hooked: Any, receivers: Receivers
) -> None:
    web: Hooked = await hooked()
    path = f"/v1/admin/gateways/{web.gateway_id}/webhook"
    admin = pipeline.ingest
    url = f"{receivers.url}/hooks/{web.gateway_id}"

    changed = await admin.put(
        path, json={"url": url, "events": ["thread.assigned", "message.sent"]}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["secret"] is None
    shown = (await admin.get(path, headers=ADMIN)).json()
    assert shown["events"] == ["message.sent", "thread.assigned"]
    assert "secret" not in shown

    rotated = await admin.post(f"{path}/secret", headers=ADMIN)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != web.endpoint.secret
    web.endpoint.secret = rotated.json()["secret"]
    event = sent(await web.thread())
    await pipeline.publish(event)
    await delivered(web.endpoint, event)  # verified with the new secret

    for bad in ("http://gateway.example.com/hook", "https://u:p@example.com/", "nope"):
        response = await admin.put(path, json={"url": bad}, headers=ADMIN)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_webhook")
    response = await admin.put(
        path, json={"url": url, "events": ["message.received"]}, headers=ADMIN
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_webhook")
    unknown = await admin.get("/v1/admin/gateways/gw-unknown/webhook", headers=ADMIN)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_gateway")
    anonymous = await admin.get(path, headers={"Authorization": "Bearer nope"})
    assert anonymous.status_code == 401
    assert (await web.http.get(path)).status_code == 401  # a gateway key is no admin token

    assert (await admin.delete(path, headers=ADMIN)).status_code == 204
    gone = await admin.get(path, headers=ADMIN)
    assert (gone.status_code, gone.json()["code"]) == (404, "no_webhook")


async def test_the_admin_cli_sets_and_lists_webhooks(
    pipeline: Pipeline, receivers: Receivers
) -> None:
    body = {"name": f"cli {token()}", "channels": ["web"]}
    created = await pipeline.ingest.post("/v1/admin/gateways", json=body, headers=ADMIN)
    gateway_id = created.json()["gateway_id"]
    url = f"{receivers.url}/hooks/{gateway_id}"

    code, secret, err = await cli(pipeline.mongo, "webhooks", "set", gateway_id, "--url", url)
    assert code == 0, err
    assert secret.strip().startswith("whsec_")
    code, shown, _ = await cli(pipeline.mongo, "--json", "webhooks", "show", gateway_id)
    assert json.loads(shown)["url"] == url
    assert "whsec_" not in shown
    code, _, err = await cli(
        pipeline.mongo, "webhooks", "set", gateway_id, "--url", "http://x.example"
    )
    assert code == 2
    assert "https" in err
    code, out, _ = await cli(pipeline.mongo, "webhooks", "remove", gateway_id)
    assert (code, out.strip()) == (0, f"removed {gateway_id}")


async def cli(mongo: MongoSettings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "MONGODB_URL": mongo.url.get_secret_value(),
        "MONGODB_DATABASE": mongo.database,
    }
    process = await asyncio.create_subprocess_exec(
        str(CLI), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_webhook_may_ask_for_the_pieces_of_streamed_replies(
    pipeline: Pipeline, hooked: Any
) -> None:
    web: Hooked = await hooked(events=["message.delta"])
    thread_id = await web.thread()
    reply = sent(thread_id, "Hello there")
    pieces = [
        MessageDelta(
            correlation_id=reply.correlation_id,
            thread_id=thread_id,
            message_id=reply.message_id,
            sequence=n,
            text=text,
            agent_name="Baton AI",
        )
        for n, text in enumerate(("Hello", " there"))
    ]
    await pipeline.publish(*pieces, reply)
    marker = MessageDelta(**{**pieces[0].model_dump(), "event_id": uuid.uuid4(), "sequence": 2})
    await pipeline.publish(marker)  # after the reply, same thread, same partition
    await delivered(web.endpoint, *pieces, marker)

    # Only what the webhook asked for: the pieces, not the reply itself.
    assert sorted(web.endpoint.delivered_ids()) == sorted(
        str(e.event_id) for e in [*pieces, marker]
    )
    assert {seen.event_type for seen in web.endpoint.delivered} == {"message.delta"}
    assert {seen.event["message_id"] for seen in web.endpoint.delivered} == {str(reply.message_id)}
    assert all(seen.verified for seen in web.endpoint.requests)
