"""The conversation pipeline for tests: each service its own app and broker connection,
served on loopback ports against the session's Kafka and MongoDB.

One pipeline per session (the ``pipeline`` fixture in tests/conftest.py): two sets of
services in the same consumer groups would split the partitions between them.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from faststream.kafka import KafkaBroker

from baton_ai_responder.app import create_app as create_ai_responder
from baton_ai_responder.settings import Settings as AiSettings
from baton_contracts import Event, Fallback, HumanAgent, topics
from baton_conversations import EscalationSettings
from baton_human_queue.app import create_app as create_human_queue
from baton_human_queue.domain import DepartmentTimeout, QuestionTimeout
from baton_human_queue.notices import NOTICE_KINDS
from baton_human_queue.settings import Settings as QueueSettings
from baton_ingest.app import create_app as create_ingest
from baton_ingest.settings import Settings as IngestSettings
from baton_ingest.webhooks import WebhookSettings
from baton_router.app import create_app as create_router
from baton_router.settings import Settings as RouterSettings
from baton_runtime import KafkaEventPublisher, KafkaSettings, MongoSettings, build_broker
from baton_scripted_model.app import create_app as create_scripted_model
from baton_scripted_model.settings import ScriptedModelSettings

from .recorder import Recorder, record_topics
from .serving import serving
from .tool_servers import McpToolServer, ToolServer, mcp_tool_server, tool_server

AGENT = HumanAgent(agent_id="agent-alex", name="Alex", department="support")
QUICK_QUESTION_S = 3.0
QUICK_QUESTIONS: dict[Fallback, str] = {"ai": "quick-ai", "human": "quick-human"}
"""Departments whose questions nobody answers for ``QUICK_QUESTION_S`` expire, by fallback."""
ACTIONS = "actions"
"""The department whose threads the pipeline's tools file serves (its other tools: below)."""
ACTIONS_BILLING = "actions-billing"
"""The only department offered ``close_account``."""
QUICK_ACTION = "quick-action"
"""A department whose actions nobody decides on for ``QUICK_QUESTION_S`` expire."""
TOOL_TOKEN_ENV = "BATON_TEST_TOOL_TOKEN"
TOOL_TOKEN = "tool-token-0123456789"
ADMIN_TOKEN = "test-admin-token-0123456789"
WATCHED = (*topics.ALL, *(topics.dead_letter_topic(t) for t in topics.ALL))


@dataclass
class Pipeline:
    kafka: KafkaSettings
    mongo: MongoSettings
    ingest: httpx.AsyncClient
    model: httpx.AsyncClient
    recorder: Recorder
    producer: KafkaBroker
    urls: Mapping[str, str]
    queue: httpx.AsyncClient
    gateway: Mapping[str, Any]
    """The test gateway (any channel, may set the tier) as ingest's admin API created it:
    ``ingest`` sends its key."""
    tools: ToolServer
    """The HTTP endpoint of the tools file's HTTP tools (:func:`tools_file`)."""
    mcp: McpToolServer
    """The MCP server of the tools file."""
    admin_token: str = ADMIN_TOKEN

    async def publish(self, *events: Event) -> None:
        await KafkaEventPublisher(self.producer, self.kafka).publish(events)

    async def publish_raw(self, topic: str, value: bytes, *, key: bytes | None = None) -> None:
        await self.producer.publish(value, self.kafka.topic(topic), key=key)

    async def script(self, *rules: Mapping[str, Any]) -> None:
        response = await self.model.post("/_script", json=list(rules))
        response.raise_for_status()

    async def new_thread(self, **fields: Any) -> str:
        body = {"user_id": f"user-{uuid.uuid4().hex[:8]}", "channel": "web", **fields}
        response = await self.ingest.post("/v1/threads", json=body)
        assert response.status_code == 201, response.text
        thread_id: str = response.json()["thread_id"]
        return thread_id

    async def say(self, thread_id: str, text: str, **fields: Any) -> uuid.UUID:
        headers = {}
        if "idempotency_key" in fields:
            headers["Idempotency-Key"] = fields.pop("idempotency_key")
        response = await self.ingest.post(
            f"/v1/threads/{thread_id}/messages", json={"text": text, **fields}, headers=headers
        )
        assert response.status_code == 202, response.text
        return uuid.UUID(response.json()["message_id"])


APPROVAL_TOPICS = ["refund", "chargeback", "compensation", "legal", "cancel my account"]
"""The phrases whose replies the session's pipeline holds for approval (its tests of drafts)."""


def tools_file(tools: ToolServer, mcp: McpToolServer) -> dict[str, Any]:
    """The session's tools file: tools for the ``actions`` departments only, so no other
    test's thread is offered one."""
    order = {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
        "required": ["order_id", "amount"],
        "additionalProperties": False,
    }
    return {
        "tools": [
            {
                "name": "order_status",
                "description": "The state of an order.",
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": {"type": "string"}},
                    "required": ["order_id"],
                    "additionalProperties": False,
                },
                "departments": [ACTIONS],
                "http": {"method": "GET", "url": f"{tools.url}/orders/{{order_id}}"},
            },
            {
                "name": "credit_order",
                "description": "Credit an amount of an order back to the customer.",
                "parameters": order,
                "departments": [ACTIONS, QUICK_ACTION],
                "approval": "amount > 50",
                "http": {
                    "method": "POST",
                    "url": f"{tools.url}/orders/{{order_id}}/credits",
                    "headers": {"Authorization": f"Bearer ${{{TOOL_TOKEN_ENV}}}"},
                },
            },
            {
                "name": "close_account",
                "description": "Close the customer's account for good.",
                "parameters": {
                    "type": "object",
                    "properties": {"customer_id": {"type": "string"}},
                    "required": ["customer_id"],
                },
                "departments": [ACTIONS_BILLING],
                "approval": "always",
                "http": {"method": "DELETE", "url": f"{tools.url}/accounts/{{customer_id}}"},
            },
        ],
        "mcp": [
            {
                "name": "shop",
                "url": mcp.url,
                "departments": [ACTIONS],
                "include": ["create_refund"],
                "approvals": {"create_refund": "amount > 50"},
            }
        ],
    }


def service_settings(
    kafka: KafkaSettings,
    mongo: MongoSettings,
    model_url: str,
    *,
    ai: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Each service's settings; ``ai`` replaces some of the ai-responder's."""
    return {
        "ingest": IngestSettings(
            kafka=kafka,
            mongo=mongo,
            env="test",
            admin_token=ADMIN_TOKEN,
            recovery_interval_s=0.5,
            recovery_grace_s=1.0,
            # The rate limits have tests of their own; here they would only get in the way.
            rate_limit_key_rps=10_000,
            rate_limit_key_burst=10_000,
            rate_limit_user_rps=1_000,
            rate_limit_user_burst=1_000,
            # Webhooks retry within tens of milliseconds and give up after three tries, so
            # the tests of retries and dead letters take well under a second each.
            webhooks=WebhookSettings(
                timeout_s=3.0,
                max_attempts=3,
                backoff_initial_s=0.05,
                backoff_max_s=0.2,
                poll_interval_s=0.2,
                per_gateway_concurrency=2,
            ),
        ),
        "router": RouterSettings(
            kafka=kafka,
            mongo=mongo,
            classifier_enabled=True,
            openai_base_url=f"{model_url}/v1",
            openai_api_key="test-key",
            escalation=EscalationSettings(limit_per_user=2),
        ),
        "ai": AiSettings(
            **{
                "kafka": kafka,
                "mongo": mongo,
                "openai_base_url": f"{model_url}/v1",
                "openai_api_key": "test-key",
                "llm_timeout_s": 2.0,
                "llm_backoff_s": 0.05,
                "review_token_threshold": 1500,
                "approval_topics": APPROVAL_TOPICS,
                "escalation": EscalationSettings(limit_per_user=2),
                **(ai or {}),
            }
        ),
        "queue": QueueSettings(
            kafka=kafka,
            mongo=mongo,
            env="test",
            admin_token=ADMIN_TOKEN,
            sweep_interval_s=0.5,
            # Questions of these departments expire within seconds (the question timeout's
            # tests); every other department keeps the default.
            question_timeout=QuestionTimeout(
                by_department={
                    department: DepartmentTimeout(after_s=QUICK_QUESTION_S, fallback=fallback)
                    for fallback, department in QUICK_QUESTIONS.items()
                }
            ),
            action_timeout=QuestionTimeout(
                by_department={QUICK_ACTION: DepartmentTimeout(after_s=QUICK_QUESTION_S)}
            ),
            # Baton's notices to users have tests of their own, on a queue of their own
            # (tests/integration/test_notices.py); here they would add messages to every
            # thread the other tests count.
            notices=json.dumps({"disable": list(NOTICE_KINDS)}),
        ),
    }


async def create_gateway(ingest_url: str, **fields: Any) -> dict[str, Any]:
    """A gateway made through ingest's admin API: its description, with its ``key``."""
    async with httpx.AsyncClient(base_url=ingest_url, timeout=10) as admin:
        response = await admin.post(
            "/v1/admin/gateways",
            json=fields,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@asynccontextmanager
async def running_pipeline(
    kafka: KafkaSettings,
    mongo: MongoSettings,
    *,
    ai: Mapping[str, Any] | None = None,
    human_queue: Mapping[str, Any] | None = None,
) -> AsyncIterator[Pipeline]:
    """The services and the scripted model on ``kafka``'s topic prefix and ``mongo``'s
    database; ``ai`` replaces some of the ai-responder's settings, ``human_queue`` some of
    the human queue's."""
    async with AsyncExitStack() as stack:
        model_url = await stack.enter_async_context(
            serving(create_scripted_model(ScriptedModelSettings()))
        )
        tools = await stack.enter_async_context(tool_server())
        mcp = await stack.enter_async_context(mcp_tool_server())
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        path = os.path.join(folder, "tools.json")
        with open(path, "w") as file:
            json.dump(tools_file(tools, mcp), file)
        # The tools file names its secret; the ai-responder reads it from the environment.
        os.environ[TOOL_TOKEN_ENV] = TOOL_TOKEN
        settings = service_settings(kafka, mongo, model_url, ai={"tools_file": path, **(ai or {})})
        if human_queue:
            settings["queue"] = settings["queue"].model_copy(update=dict(human_queue))
        urls = {
            "model": model_url,
            "ingest": await stack.enter_async_context(serving(create_ingest(settings["ingest"]))),
            "router": await stack.enter_async_context(serving(create_router(settings["router"]))),
            "ai-responder": await stack.enter_async_context(
                serving(create_ai_responder(settings["ai"]))
            ),
            "human-queue": await stack.enter_async_context(
                serving(create_human_queue(settings["queue"]))
            ),
        }
        recorder = await stack.enter_async_context(record_topics(kafka, *WATCHED))
        producer = build_broker(kafka, client_id="test-gateway")
        await stack.enter_async_context(producer)
        await producer.start()
        gateway = await create_gateway(
            urls["ingest"], name="test gateway", channels=["*"], may_set_routing=True
        )
        ingest = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=urls["ingest"],
                timeout=10,
                headers={"Authorization": f"Bearer {gateway['key']}"},
            )
        )
        model = await stack.enter_async_context(httpx.AsyncClient(base_url=model_url, timeout=10))
        queue = await stack.enter_async_context(
            httpx.AsyncClient(base_url=urls["human-queue"], timeout=10)
        )
        yield Pipeline(
            kafka, mongo, ingest, model, recorder, producer, urls, queue, gateway, tools, mcp
        )
