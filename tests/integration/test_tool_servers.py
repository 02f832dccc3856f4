"""Configured tools against real servers on loopback ports: an HTTP endpoint and an MCP server.

The toolbox is loaded from a tools file, as the ai-responder loads it; no Kafka or MongoDB is
involved here (the turn that uses these tools is tested with the pipeline).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton_ai_responder.toolbox import McpToolSource, load_toolbox, parse_tools_file
from baton_ai_responder.tools import Tool, Toolbox
from baton_testkit import free_port
from tests.support.tool_servers import ToolServer, mcp_tool_server, tool_server
from tests.support.waiting import until

ORDER = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "amount": {"type": "number"},
        "reason": {"type": "string"},
        "notify": {"type": "boolean"},
    },
    "required": ["order_id"],
}

Write = Callable[[dict[str, Any]], Path]


@pytest.fixture
def tools_file(tmp_path: Path) -> Write:
    def write(content: dict[str, Any]) -> Path:
        path = tmp_path / "tools.yaml"
        path.write_text(yaml.safe_dump(content))
        return path

    return write


@asynccontextmanager
async def started(path: Path, environ: dict[str, str] | None = None) -> AsyncIterator[Toolbox]:
    toolbox = load_toolbox(path, environ or {})
    await toolbox.start()
    try:
        yield toolbox
    finally:
        await toolbox.close()


def http_tool(server: ToolServer, url: str, **http: Any) -> dict[str, Any]:
    return {
        "name": "order_tool",
        "description": "Work on an order.",
        "parameters": ORDER,
        "http": {"url": server.url + url, **http},
    }


def tool(toolbox: Toolbox, name: str = "order_tool") -> Tool:
    found = toolbox.get(name, None)
    assert found is not None
    return found


async def test_a_path_argument_stays_one_encoded_segment(tools_file: Write) -> None:
    async with tool_server() as server:
        path = tools_file({"tools": [http_tool(server, "/v1/orders/{order_id}")]})
        async with started(path) as toolbox:
            outcome = await tool(toolbox).call(
                {"order_id": "../admin?x=1#top@evil.example/"}, idempotency_key="k-1"
            )
            refused = await tool(toolbox).call({"order_id": ".."}, idempotency_key="k-2")

    assert outcome.ok, outcome
    assert [(c.method, c.path, c.query) for c in server.calls] == [
        ("GET", "/v1/orders/..%2Fadmin%3Fx%3D1%23top%40evil.example%2F", "")
    ]
    assert not refused.ok
    assert "cannot be '..'" in (refused.error or "")
    assert len(server.calls) == 1  # the refused call sent nothing


async def test_a_post_sends_the_rest_as_json_with_query_headers_and_key(tools_file: Write) -> None:
    async with tool_server() as server:
        spec = http_tool(
            server,
            "/v1/orders/{order_id}/refunds?source=ai",
            method="post",
            query=["notify"],
            headers={"Authorization": "Bearer ${ORDERS_TOKEN}"},
        )
        path = tools_file({"tools": [spec]})
        async with started(path, {"ORDERS_TOKEN": "s3cret"}) as toolbox:
            outcome = await tool(toolbox).call(
                {"order_id": "42", "amount": 12.5, "reason": "late & broken", "notify": True},
                idempotency_key="key-42",
            )

    assert outcome.ok, outcome
    assert outcome.status_code == 200
    (call,) = server.calls
    assert (call.method, call.path, call.query) == (
        "POST",
        "/v1/orders/42/refunds",
        "source=ai&notify=true",
    )
    assert call.json == {"amount": 12.5, "reason": "late & broken"}
    assert call.headers["authorization"] == "Bearer s3cret"
    assert call.idempotency_key == "key-42"
    assert json.loads(outcome.content)["effect"] == "applied"


async def test_a_repeated_key_reaches_the_endpoint_which_applies_it_once(
    tools_file: Write,
) -> None:
    async with tool_server() as server:
        path = tools_file({"tools": [http_tool(server, "/v1/orders/{order_id}", method="POST")]})
        async with started(path) as toolbox:
            first = await tool(toolbox).call({"order_id": "1"}, idempotency_key="same")
            again = await tool(toolbox).call({"order_id": "1"}, idempotency_key="same")
            other = await tool(toolbox).call({"order_id": "1"}, idempotency_key="other")

    assert [json.loads(o.content)["effect"] for o in (first, again, other)] == [
        "applied",
        "repeated",
        "applied",
    ]
    assert [c.idempotency_key for c in server.calls] == ["same", "same", "other"]
    assert server.effects == {"same": 1, "other": 1}


async def test_response_fields_pick_from_the_json_answer(tools_file: Write) -> None:
    async with tool_server() as server:
        server.answer = {
            "status": "shipped",
            "delivery": {"date": "2025-03-02", "carrier": "internal"},
            "customer": {"email": "someone@example.com"},
        }
        spec = http_tool(
            server, "/v1/orders/{order_id}", response_fields=["status", "delivery.date", "nope.x"]
        )
        async with started(tools_file({"tools": [spec]})) as toolbox:
            outcome = await tool(toolbox).call({"order_id": "7"}, idempotency_key="k")

    assert outcome.ok, outcome
    assert json.loads(outcome.content) == {"status": "shipped", "delivery": {"date": "2025-03-02"}}


async def test_failures_are_tool_errors(
    tools_file: Write, caplog: pytest.LogCaptureFixture
) -> None:
    async with tool_server() as server:
        spec = http_tool(
            server,
            "/v1/orders/{order_id}",
            timeout_s=0.3,
            max_response_bytes=1000,
            response_fields=["status"],
        )
        async with started(tools_file({"tools": [spec]})) as toolbox:
            order_tool = tool(toolbox)
            server.fail_status = 503
            unavailable = await order_tool.call({"order_id": "1"}, idempotency_key="a")
            server.fail_status = None
            server.raw_answer = b"x" * 5000
            oversized = await order_tool.call({"order_id": "1"}, idempotency_key="b")
            server.raw_answer = b"not json"
            garbled = await order_tool.call({"order_id": "1"}, idempotency_key="c")
            server.raw_answer = None
            server.delay_s = 1.5
            late = await order_tool.call({"order_id": "1"}, idempotency_key="d")

    assert (unavailable.ok, unavailable.status_code) == (False, 503)
    assert "HTTP 503" in (unavailable.error or "")
    assert json.loads(unavailable.content)["error"] == unavailable.error
    # The model reads what the endpoint said; the log only that the call failed.
    assert "the tool failed" in (unavailable.error or "")
    logged = [r.getMessage() for r in caplog.records if "tool call failed" in r.getMessage()]
    assert any("HTTP 503" in line for line in logged)
    assert not any("the tool failed" in line for line in logged)
    assert not oversized.ok
    assert "more than 1000 bytes" in (oversized.error or "")
    assert (garbled.ok, garbled.status_code) == (False, 200)
    assert "other than JSON" in (garbled.error or "")
    assert not late.ok
    assert "did not answer within 0.3 s" in (late.error or "")


async def test_an_unreachable_endpoint_is_a_tool_error(tools_file: Write) -> None:
    spec = {
        "name": "order_tool",
        "description": "Work on an order.",
        "parameters": ORDER,
        "http": {"url": f"http://127.0.0.1:{free_port()}/v1/orders/{{order_id}}"},
    }
    async with started(tools_file({"tools": [spec]})) as toolbox:
        outcome = await tool(toolbox).call({"order_id": "1"}, idempotency_key="k")

    assert not outcome.ok
    assert outcome.status_code is None
    assert "could not be reached" in (outcome.error or "")


def mcp_entry(url: str, **fields: Any) -> dict[str, Any]:
    return {"name": "shop", "url": url, "include": ["create_refund"], **fields}


async def test_an_mcp_servers_tools_are_listed_filtered_and_called(tools_file: Write) -> None:
    async with mcp_tool_server() as server:
        entry = mcp_entry(
            server.url,
            departments=["Billing"],
            approvals={"create_refund": "amount > 50"},
            headers={"X-Caller": "${CALLER}"},
        )
        async with started(tools_file({"mcp": [entry]}), {"CALLER": "baton"}) as toolbox:
            offered = [d["function"]["name"] for d in toolbox.definitions("billing")]
            elsewhere = [d["function"]["name"] for d in toolbox.definitions("sales")]
            refund = toolbox.get("create_refund", "BILLING")
            assert refund is not None
            small = refund.approval_reason({"order_id": "7", "amount": 20})
            large = refund.approval_reason({"order_id": "7", "amount": 80})
            invalid = refund.invalid({"order_id": "7"})
            outcome = await refund.call({"order_id": "7", "amount": 20}, idempotency_key="r-7")
            again = await refund.call({"order_id": "7", "amount": 20}, idempotency_key="r-7")

    assert offered == ["ask_human", "escalate", "current_time", "create_refund"]
    assert elsewhere == ["ask_human", "escalate", "current_time"]
    assert toolbox.get("close_account", "billing") is None
    assert (small, large) == (None, "amount > 50")
    assert invalid is not None
    assert "amount" in invalid
    assert outcome.ok, outcome
    assert again.ok, again
    assert outcome.content == "refunded 20 on order 7"
    assert [(c.tool, c.arguments, c.idempotency_key) for c in server.calls] == [
        ("create_refund", {"order_id": "7", "amount": 20}, "r-7"),
        ("create_refund", {"order_id": "7", "amount": 20}, "r-7"),
    ]
    assert server.effects == {"r-7": 1}


async def test_mcp_failures_are_tool_errors(
    tools_file: Write, caplog: pytest.LogCaptureFixture
) -> None:
    async with mcp_tool_server() as server:
        entry = mcp_entry(server.url, timeout_s=0.5, max_response_bytes=100)
        async with started(tools_file({"mcp": [entry]})) as toolbox:
            refund = toolbox.get("create_refund", None)
            assert refund is not None
            arguments = {"order_id": "7", "amount": 20}
            server.fail = True
            failed = await refund.call(arguments, idempotency_key="a")
            server.fail = False
            server.answer_padding = 500
            oversized = await refund.call(arguments, idempotency_key="b")
            server.answer_padding = 0
            server.delay_s = 3
            late = await refund.call(arguments, idempotency_key="c")

    assert not failed.ok
    assert "order 7 cannot be refunded" in (failed.error or "")
    logged = [r.getMessage() for r in caplog.records if "tool call failed" in r.getMessage()]
    assert logged
    assert not any("cannot be refunded" in line for line in logged)
    assert not oversized.ok
    assert "more than 100 bytes" in (oversized.error or "")
    assert not late.ok
    assert "did not answer within 0.5 s" in (late.error or "")


async def test_an_mcp_server_that_hangs_does_not_hold_the_start_up(tools_file: Write) -> None:
    async with tool_server() as hanging:
        hanging.delay_s = 1.5
        entry = mcp_entry(f"{hanging.url}/mcp", timeout_s=0.3)
        async with started(tools_file({"mcp": [entry]})) as toolbox:
            names = [d["function"]["name"] for d in toolbox.definitions(None)]

    assert names == ["ask_human", "escalate", "current_time"]
    assert hanging.calls  # it was asked


async def test_an_mcp_server_down_at_start_is_listed_once_it_is_up() -> None:
    port = free_port()
    file = parse_tools_file(
        json.dumps({"mcp": [mcp_entry(f"http://127.0.0.1:{port}/mcp", timeout_s=2)]}),
        environ={},
    )
    retrying = McpToolSource(file.mcp[0].server(), retry_after_s=0)
    patient = McpToolSource(file.mcp[0].server())
    toolbox = Toolbox((), [retrying, patient])
    await retrying.start()
    await patient.start()
    assert retrying.tools() == []
    assert patient.tools() == []
    assert patient._listing is None  # the next attempt waits 30 s

    async with mcp_tool_server(port=port) as server:
        await until(lambda: [t.name for t in retrying.tools()] == ["create_refund"])
        assert patient.tools() == []
        found = toolbox.get("create_refund", None)
        assert found is not None
        outcome = await found.call({"order_id": "9", "amount": 5}, idempotency_key="late")
        await toolbox.close()

    assert outcome.ok, outcome
    assert server.calls[-1].idempotency_key == "late"
