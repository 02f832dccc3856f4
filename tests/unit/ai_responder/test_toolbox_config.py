"""The tools file: what loads, and the errors that stop the service at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp.types import Tool as McpToolDefinition

from baton_ai_responder.toolbox import (
    HttpTool,
    McpToolSource,
    ToolsFileError,
    load_toolbox,
    parse_tools_file,
)
from baton_ai_responder.tools import Toolbox

LOOKUP: dict[str, Any] = {
    "name": "lookup_order",
    "description": "Look up an order's state and delivery date.",
    "parameters": {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "pattern": "^[0-9]+$"},
            "amount": {"type": "number"},
            "fields": {"type": "string"},
        },
        "required": ["order_id"],
        "additionalProperties": False,
    },
    "departments": ["Billing"],
    "approval": "amount > 50",
    "http": {
        "method": "get",
        "url": "https://orders.internal/v1/orders/{order_id}",
        "query": ["fields"],
        "headers": {"Authorization": "Bearer ${ORDERS_TOKEN}", "X-Price": "$$5"},
        "timeout_s": 5,
        "response_fields": ["status", "delivery.date"],
    },
}
SHOP: dict[str, Any] = {
    "name": "shop",
    "url": "http://mcp.internal/mcp",
    "include": ["create_refund", "track_parcel"],
    "approvals": {"create_refund": "amount > 50"},
}
ENVIRON = {"ORDERS_TOKEN": "s3cret"}


def names(toolbox: Toolbox, department: str | None) -> list[str]:
    return [d["function"]["name"] for d in toolbox.definitions(department)]


def write(tmp_path: Path, content: Any, name: str = "tools.yaml") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def test_no_file_means_the_built_in_tools(tmp_path: Path) -> None:
    assert names(load_toolbox(None, {}), None) == ["ask_human", "escalate", "current_time"]
    assert names(load_toolbox(write(tmp_path, ""), {}), None) == [
        "ask_human",
        "escalate",
        "current_time",
    ]


def test_a_yaml_file_loads_with_secrets_from_the_environment(tmp_path: Path) -> None:
    toolbox = load_toolbox(write(tmp_path, {"tools": [LOOKUP]}), ENVIRON)

    assert names(toolbox, "billing") == ["ask_human", "escalate", "current_time", "lookup_order"]
    assert names(toolbox, "sales") == ["ask_human", "escalate", "current_time"]
    assert names(toolbox, None) == ["ask_human", "escalate", "current_time"]
    tool = toolbox.get("lookup_order", "BILLING")
    assert isinstance(tool, HttpTool)
    assert toolbox.get("lookup_order", "sales") is None
    assert tool.audited
    assert tool.endpoint.method == "GET"
    assert tool.endpoint.headers == {"Authorization": "Bearer s3cret", "X-Price": "$5"}
    assert tool.approval_reason({"order_id": "1", "amount": 60}) == "amount > 50"
    assert tool.approval_reason({"order_id": "1", "amount": 6}) is None


def test_a_json_file_loads_too(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"tools": [LOOKUP]}), "tools.json")
    assert names(load_toolbox(path, ENVIRON), "billing")[-1] == "lookup_order"


def test_a_tool_for_every_thread_and_one_that_always_needs_approval(tmp_path: Path) -> None:
    tool = {**LOOKUP, "approval": "always"}
    del tool["departments"]
    toolbox = load_toolbox(write(tmp_path, {"tools": [tool]}), ENVIRON)
    found = toolbox.get("lookup_order", None)
    assert found is not None
    assert found.available_to("anything")
    assert found.approval_reason({"order_id": "1"}) == "always"


def test_arguments_are_checked_against_the_schema(tmp_path: Path) -> None:
    tool = load_toolbox(write(tmp_path, {"tools": [LOOKUP]}), ENVIRON).get(
        "lookup_order", "billing"
    )
    assert tool is not None
    assert tool.invalid({"order_id": "12"}) is None
    assert tool.invalid({"order_id": "12", "amount": 3.5}) is None
    assert tool.invalid({}) == "arguments: 'order_id' is a required property"
    assert tool.invalid({"order_id": "abc"}) == (
        "arguments.order_id: 'abc' does not match '^[0-9]+$'"
    )
    assert tool.invalid({"order_id": "1", "amount": "ten"}) == (
        "arguments.amount: 'ten' is not of type 'number'"
    )
    assert "extra" in (tool.invalid({"order_id": "1", "extra": 1}) or "")


def tool_with(**changes: Any) -> dict[str, Any]:
    return {"tools": [{**LOOKUP, **changes}]}


def http_with(**changes: Any) -> dict[str, Any]:
    return tool_with(http={**LOOKUP["http"], **changes})


def mcp_with(**changes: Any) -> dict[str, Any]:
    return {"mcp": [{**SHOP, **changes}]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"tool": []}, "tool: Extra inputs are not permitted"),
        ({"tools": {"name": "x"}}, "tools: Input should be a valid list"),
        (tool_with(timeout_s=3), "tool 'lookup_order', timeout_s: Extra inputs are not permitted"),
        (tool_with(name="look up"), "tool 'look up', name: String should match pattern"),
        (tool_with(name="x" * 65), "name: String should match pattern"),
        (
            tool_with(name="ask_human"),
            "tool 'ask_human', name: ask_human is a built-in tool's name",
        ),
        (tool_with(name="current_time"), "current_time is a built-in tool's name"),
        (tool_with(description=" "), "tool 'lookup_order', description: String should have at"),
        ({"tools": [LOOKUP, LOOKUP]}, "tool names used twice: lookup_order"),
        (tool_with(departments=[]), "tool 'lookup_order', departments: List should have at least"),
        (
            tool_with(parameters={"type": "object", "properties": {"a": {"type": "nope"}}}),
            "tool 'lookup_order', parameters: not a valid JSON Schema at properties/a/type",
        ),
        (
            tool_with(parameters={"type": "string"}),
            'parameters: the arguments are an object: the schema needs "type": "object"',
        ),
        (tool_with(approval="amount >"), "approval: the condition 'amount >' does not parse"),
        (tool_with(approval="__import__('os')"), "approval: the condition"),
        (tool_with(approval=5), "approval: approval is never, always or a condition"),
        (
            tool_with(approval="ammount > 50"),
            "the condition reads ammount, which is not a parameter",
        ),
        (http_with(url="https://{host}/x"), "http.url: the scheme, host and port must be written"),
        (http_with(url="https://api.x/{a}@evil"), "http.url: a placeholder must be a whole path"),
        (http_with(url="{base}/x"), "http.url: the url must start with http:// or https://"),
        (http_with(url="ftp://files.internal/x"), "must start with http:// or https://"),
        (http_with(url="https://api.x/o/{order_id}#{a}"), "must not have a fragment"),
        (http_with(url="https://api.x/o?{key}=1"), "a query key must be written out"),
        (http_with(url="https://api.x/o/{order_id}.json"), "a placeholder must be a whole path"),
        (
            http_with(url="https://api.x/o/{fields}"),
            "http.url: the placeholder {fields} must be a required parameter",
        ),
        (http_with(query=["order", "fields"]), "http.query: order is not a parameter"),
        (http_with(method="FETCH"), "tool 'lookup_order', http.method: Input should be"),
        (http_with(timeout_s=0), "http.timeout_s: Input should be greater than 0"),
        (http_with(max_response_bytes=0), "http.max_response_bytes: Input should be greater"),
        (http_with(response_fields=["a..b"]), "is not a dotted path"),
        (
            http_with(headers={"Authorization": "Bearer ${MISSING_TOKEN}"}),
            "tool 'lookup_order', http.headers: the environment has no MISSING_TOKEN",
        ),
        (http_with(headers={"idempotency-key": "x"}), "Idempotency-Key is set by Baton"),
        (mcp_with(url="mcp.internal/mcp"), "MCP server 'shop', url: the url must start with"),
        (mcp_with(retries=3), "MCP server 'shop', retries: Extra inputs are not permitted"),
        (mcp_with(name="my shop"), "MCP server 'my shop', name: String should match pattern"),
        (
            mcp_with(approvals={"refund": "always"}),
            "MCP server 'shop': approvals: refund not in include",
        ),
        (
            mcp_with(approvals={"create_refund": "amount >>> 1"}),
            "MCP server 'shop', approvals.create_refund: the condition 'amount >>> 1' does not",
        ),
        (mcp_with(headers={"X": "${NOPE}"}), "MCP server 'shop', headers: the environment has"),
        ({"mcp": [SHOP, SHOP]}, "MCP server names used twice: shop"),
    ],
)
def test_a_bad_file_is_refused_naming_the_tool_and_field(
    tmp_path: Path, content: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ToolsFileError) as raised:
        load_toolbox(path, ENVIRON)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tools: [", "is neither YAML nor JSON"),
        ('{"tools": [}', "is neither YAML nor JSON"),
        ("- a\n- b\n", "must be a mapping with tools: and/or mcp:"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_refused(
    tmp_path: Path, content: str, message: str
) -> None:
    with pytest.raises(ToolsFileError, match=message):
        load_toolbox(write(tmp_path, content), {})


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ToolsFileError, match="cannot be read"):
        load_toolbox(tmp_path / "nowhere.yaml", {})


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    content = {"tools": [{**LOOKUP, "name": "a b", "approval": "x >"}], "mcp": [{"name": "m"}]}
    with pytest.raises(ToolsFileError) as raised:
        load_toolbox(write(tmp_path, content), ENVIRON)
    lines = str(raised.value).splitlines()[1:]
    assert len(lines) == 3
    assert any("MCP server 'm', url: Field required" in line for line in lines)


def definition(name: str, schema: dict[str, Any] | None = None) -> McpToolDefinition:
    return McpToolDefinition(
        name=name,
        description=f"{name} tool",
        inputSchema=schema or {"type": "object", "properties": {"amount": {"type": "number"}}},
    )


def test_an_mcp_servers_tools_are_filtered_and_given_their_approval() -> None:
    file = parse_tools_file(
        json.dumps(
            {
                "mcp": [
                    {
                        "name": "shop",
                        "url": "http://mcp.internal/mcp",
                        "departments": ["Billing"],
                        "approval": "always",
                        "approvals": {"create_refund": "amount > 50"},
                    }
                ]
            }
        ),
        environ={},
    )
    source = McpToolSource(file.mcp[0].server(), reserved={"lookup_order", "current_time"})
    built = source._build(
        [
            definition("create_refund"),
            definition("track_parcel"),
            definition("lookup_order"),  # taken by a tool of the file
            definition("current_time"),  # a built-in's
            definition("broken", {"type": "object", "properties": {"a": {"type": 5}}}),
        ]
    )
    assert [t.name for t in built] == ["create_refund", "track_parcel"]
    refund, parcel = built
    assert refund.approval_reason({"amount": 60}) == "amount > 50"
    assert refund.approval_reason({"amount": 6}) is None
    assert parcel.approval_reason({}) == "always"
    assert refund.available_to("billing")
    assert not refund.available_to(None)
    assert refund.description == "create_refund tool"
    assert refund.invalid({"amount": "x"}) == "arguments.amount: 'x' is not of type 'number'"


def test_the_documented_example_loads() -> None:
    page = Path(__file__).resolve().parents[3] / "docs" / "tools.md"
    example = page.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    file = parse_tools_file(example, environ={"ORDERS_TOKEN": "o", "SHOP_TOKEN": "s"})

    assert [t.name for t in file.tools] == ["lookup_order", "refund_order"]
    assert [m.name for m in file.mcp] == ["shop"]
    refund = file.mcp[0].server().approvals["create_refund"]
    assert refund.reason({"amount": 10, "currency": "GBP"}) is not None
    assert refund.reason({"amount": 10, "currency": "EUR"}) is None
