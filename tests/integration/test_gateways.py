"""Gateways through the real ingest service: keys, their channels, ownership of threads,
verified end users, routing attributes, and rate limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from baton_contracts import MessageSent
from baton_ingest.app import create_app as create_ingest
from baton_ingest.gateways import identity_hash
from baton_ingest.settings import Settings as IngestSettings
from baton_runtime import Document, KafkaSettings, MongoSettings
from tests.support.gateways import ADMIN, Gw, refused
from tests.support.pipeline import ADMIN_TOKEN, Pipeline
from tests.support.queue import reply_rule, token
from tests.support.recorder import in_thread
from tests.support.serving import serving


@pytest.fixture
async def gateways(pipeline: Pipeline) -> AsyncIterator[Any]:
    """Makes gateways through the pipeline's ingest admin API; closes their clients."""
    clients: list[httpx.AsyncClient] = []

    async def make(channels: list[str] | None = None, **flags: Any) -> Gw:
        body = {"name": f"gw {uuid.uuid4().hex[:6]}", "channels": channels or ["web"], **flags}
        response = await pipeline.ingest.post("/v1/admin/gateways", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        created = response.json()
        http = httpx.AsyncClient(
            base_url=pipeline.urls["ingest"],
            timeout=10,
            headers={"Authorization": f"Bearer {created['key']}"},
        )
        clients.append(http)
        return Gw(created, http)

    yield make
    for client in clients:
        await client.aclose()


async def test_create_a_key_post_a_message_and_receive_the_reply_over_kafka(
    pipeline: Pipeline, gateways: Any
) -> None:
    """The gateway setup of docs/api.md, end to end."""
    tok = token()
    await pipeline.script(reply_rule(tok, "We open at 9 am."))
    web: Gw = await gateways(["web"])
    thread_id = await web.thread("alice")
    posted = await web.http.post(
        f"/v1/threads/{thread_id}/messages", json={"text": f"When do you open? {tok}"}
    )
    assert posted.status_code == 202, posted.text

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "We open at 9 am."
    shown = (await web.http.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [m["role"] for m in shown] == ["user", "assistant"]


async def test_every_gateway_route_needs_a_valid_key(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    routes = [
        ("POST", "/v1/threads", {"user_id": "u1"}),
        ("GET", f"/v1/threads/{thread_id}", None),
        ("POST", f"/v1/threads/{thread_id}/messages", {"text": "hi"}),
        ("GET", f"/v1/threads/{thread_id}/messages", None),
    ]
    async with httpx.AsyncClient(base_url=pipeline.urls["ingest"], timeout=10) as anonymous:
        for method, path, body in routes:
            missing = await anonymous.request(method, path, json=body)
            refused(missing, 401, "unauthenticated")
            basic = await anonymous.request(
                method, path, json=body, headers={"Authorization": "Basic dTpw"}
            )
            refused(basic, 401, "unauthenticated")
            for wrong in ("bgw_" + "x" * 43, ADMIN_TOKEN, pipeline.gateway["key"][:-1]):
                response = await anonymous.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {wrong}"}
                )
                refused(response, 401, "invalid_key")
        assert (await anonymous.get("/health/live")).status_code == 200
    assert (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json() == {
        "messages": []
    }


async def test_a_key_opens_threads_on_its_channels_only(gateways: Any) -> None:
    web: Gw = await gateways(["web"])
    refused(
        await web.http.post("/v1/threads", json={"user_id": "u1", "channel": "email"}),
        403,
        "channel_not_allowed",
    )
    thread_id = await web.thread("u1")
    assert (await web.http.get(f"/v1/threads/{thread_id}")).json()["channel"] == "web"
    both: Gw = await gateways(["web", "email"])
    refused(await both.http.post("/v1/threads", json={"user_id": "u1"}), 422, "channel_required")
    await both.thread("u1", channel="email")


async def test_another_gateways_thread_is_as_unknown_as_no_thread(
    gateways: Any, mongo_client: AsyncMongoClient[Document], pipeline: Pipeline
) -> None:
    mine: Gw = await gateways()
    other: Gw = await gateways()
    thread_id = await mine.thread("u1")
    await mine.http.post(f"/v1/threads/{thread_id}/messages", json={"text": "mine"})

    for path, body in (
        (f"/v1/threads/{thread_id}", None),
        (f"/v1/threads/{thread_id}/messages", None),
        (f"/v1/threads/{thread_id}/messages", {"text": "intrusion"}),
    ):
        method = "POST" if body else "GET"
        theirs = await other.http.request(method, path, json=body)
        nothing = await other.http.request(
            method, path.replace(thread_id, "no-such-thread"), json=body
        )
        detail = refused(theirs, 404, "unknown_thread")
        assert detail == refused(nothing, 404, "unknown_thread").replace(
            "no-such-thread", thread_id
        )

    shown = (await mine.http.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [m["text"] for m in shown] == ["mine"]
    stored = await mongo_client[pipeline.mongo.database]["threads"].find_one({"_id": thread_id})
    assert stored is not None
    assert stored["gateway_id"] == mine.gateway_id


async def test_a_message_speaks_for_its_threads_user(gateways: Any) -> None:
    web: Gw = await gateways()
    thread_id = await web.thread("alice")
    url = f"/v1/threads/{thread_id}/messages"
    refused(
        await web.http.post(url, json={"text": "hi", "user_id": "mallory"}), 403, "user_mismatch"
    )
    assert (await web.http.post(url, json={"text": "hi", "user_id": "alice"})).status_code == 202


async def test_a_gateway_of_verified_users_needs_each_users_identity_hash(gateways: Any) -> None:
    widget: Gw = await gateways(require_identity=True)
    secret = widget.body["identity_secret"]
    refused(
        await widget.http.post("/v1/threads", json={"user_id": "alice"}), 403, "identity_required"
    )
    for wrong in (identity_hash(secret, "bob"), identity_hash("guess", "alice"), "00" * 32, "x"):
        response = await widget.http.post(
            "/v1/threads", json={"user_id": "alice", "user_hash": wrong}
        )
        refused(response, 403, "invalid_identity")
    await widget.thread("alice", user_hash=identity_hash(secret, "alice"))


async def test_only_a_gateway_allowed_to_set_routing_sends_the_tier(
    pipeline: Pipeline, gateways: Any
) -> None:
    widget: Gw = await gateways()
    vip = {"user_id": "u1", "metadata": {"tier": "vip"}}
    detail = refused(
        await widget.http.post("/v1/threads", json=vip), 422, "routing_attribute_not_allowed"
    )
    assert "metadata.tier" in detail
    await widget.thread("u1", metadata={"locale": "de"})

    allowed = await pipeline.ingest.patch(
        f"/v1/admin/gateways/{widget.gateway_id}", json={"may_set_routing": True}, headers=ADMIN
    )
    assert allowed.json()["may_set_routing"] is True
    assert (await widget.http.post("/v1/threads", json=vip)).status_code == 201


async def test_a_rotated_key_works_at_once_and_the_old_one_no_more(
    pipeline: Pipeline, gateways: Any
) -> None:
    web: Gw = await gateways()
    thread_id = await web.thread("u1")
    rotated = await pipeline.ingest.post(
        f"/v1/admin/gateways/{web.gateway_id}/rotate-key", headers=ADMIN
    )
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["key"]
    assert rotated.json()["identity_secret"] is None

    refused(await web.http.get(f"/v1/threads/{thread_id}"), 401, "invalid_key")
    headers = {"Authorization": f"Bearer {new_key}"}
    assert (await web.http.get(f"/v1/threads/{thread_id}", headers=headers)).status_code == 200

    revoked = await pipeline.ingest.post(
        f"/v1/admin/gateways/{web.gateway_id}/revoke", headers=ADMIN
    )
    assert revoked.json()["active"] is False
    refused(await web.http.get(f"/v1/threads/{thread_id}", headers=headers), 401, "invalid_key")
    refused(
        await pipeline.ingest.post(
            f"/v1/admin/gateways/{web.gateway_id}/rotate-key", headers=ADMIN
        ),
        409,
        "gateway_revoked",
    )


@dataclass
class Limited:
    """An ingest of its own with low rate limits, and a maker of its gateways."""

    url: str

    async def gateway(self) -> Gw:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as admin:
            body = {"name": "limited", "channels": ["web"]}
            response = await admin.post("/v1/admin/gateways", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        created = response.json()
        http = httpx.AsyncClient(
            base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {created['key']}"}
        )
        return Gw(created, http)


@pytest.fixture(scope="module")
async def limited(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> AsyncIterator[Limited]:
    # Topics and a database of its own: its consumer and its sweep stay off the pipeline's.
    kafka = kafka_settings.model_copy(
        update={"topic_prefix": f"{kafka_settings.topic_prefix}limited."}
    )
    mongo = mongo_settings.model_copy(update={"database": f"{mongo_settings.database}_limited"})
    settings = IngestSettings(
        kafka=kafka,
        mongo=mongo,
        env="test",
        admin_token=ADMIN_TOKEN,
        # A token every 5 s: none comes back while a test runs.
        rate_limit_key_rps=0.2,
        rate_limit_key_burst=8,
        rate_limit_user_rps=0.2,
        rate_limit_user_burst=3,
    )
    try:
        async with serving(create_ingest(settings)) as url:
            yield Limited(url)
    finally:
        await mongo_client.drop_database(mongo.database)


def _rate_limited(response: httpx.Response, fragment: str) -> None:
    assert fragment in refused(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 5


async def test_each_end_user_has_a_rate_limit_within_the_keys(limited: Limited) -> None:
    gateway = await limited.gateway()
    async with gateway.http:
        alice = await gateway.thread("alice")  # alice's first request
        for _ in range(2):
            assert (await gateway.http.get(f"/v1/threads/{alice}")).status_code == 200
        _rate_limited(
            await gateway.http.post(f"/v1/threads/{alice}/messages", json={"text": "hi"}),
            "end user",
        )
        await gateway.thread("bob")  # another user of the same key is not held up


async def test_a_key_has_a_rate_limit_over_all_its_users(limited: Limited) -> None:
    gateway, other = await limited.gateway(), await limited.gateway()
    async with gateway.http, other.http:
        for i in range(8):
            await gateway.thread(f"user-{i}")
        _rate_limited(
            await gateway.http.post("/v1/threads", json={"user_id": "one-more"}), "gateway key"
        )
        await other.thread("one-more")  # another key is not held up
