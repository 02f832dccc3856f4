"""The demo shop the scripted model serves under /demo-shop, and the tools file `make run`
writes for it (scripts/run.py), read by the ai-responder's own loader."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi.testclient import TestClient

from baton_ai_responder.toolbox import HttpTool, load_toolbox
from baton_scripted_model import ScriptedModelSettings, create_app
from baton_scripted_model.defaults import tool_reply
from baton_scripted_model.shop import STATES, DemoShop, order_facts

ROOT = Path(__file__).resolve().parents[3]
RUN_SCRIPT = ROOT / "scripts" / "run.py"


@pytest.fixture(scope="module")
def run_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baton_run_script", RUN_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- orders


def test_an_order_is_made_up_from_its_number_the_same_every_time() -> None:
    today = date(2025, 6, 10)
    facts = order_facts("1234", today)
    assert facts == order_facts("1234", today)
    assert set(facts) == {"order_id", "state", "delivery_date"}
    assert facts["order_id"] == "1234"
    assert facts["state"] in STATES


def test_orders_differ_in_state() -> None:
    states = {order_facts(str(n), date(2025, 6, 10))["state"] for n in range(1000, 1040)}
    assert states == set(STATES)


def test_a_delivered_order_was_delivered_before_today() -> None:
    today = date(2025, 6, 10)
    for n in range(1000, 1040):
        facts = order_facts(str(n), today)
        days = (date.fromisoformat(facts["delivery_date"]) - today).days
        if facts["state"] == "delivered":
            assert -5 <= days <= -1
        else:
            assert 1 <= days <= 5


def test_get_order_answers_its_state_date_and_credits(client: TestClient) -> None:
    response = client.get("/demo-shop/orders/1234")
    assert response.status_code == 200
    body = response.json()
    assert body["order_id"] == "1234"
    assert body["state"] == order_facts("1234", date.fromisoformat(body["delivery_date"]))["state"]
    assert body["total_credited"] == 0
    client.post("/demo-shop/orders/1234/credits", json={"amount": 5})
    assert client.get("/demo-shop/orders/1234").json()["total_credited"] == 5


def test_an_order_number_is_digits(client: TestClient) -> None:
    for response in (
        client.get("/demo-shop/orders/abc"),
        client.post("/demo-shop/orders/abc/credits", json={"amount": 1}),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "detail": "no order 'abc': order numbers are digits",
            "code": "unknown_order",
        }


# --------------------------------------------------------------------------- credits


def test_credits_add_up_per_order(client: TestClient) -> None:
    first = client.post("/demo-shop/orders/1234/credits", json={"amount": 30, "reason": "late"})
    assert first.status_code == 200
    assert first.json() == {"order_id": "1234", "credited": 30, "total_credited": 30}
    second = client.post("/demo-shop/orders/1234/credits", json={"amount": 12.5})
    assert second.json() == {"order_id": "1234", "credited": 12.5, "total_credited": 42.5}
    other = client.post("/demo-shop/orders/99/credits", json={"amount": 1})
    assert other.json()["total_credited"] == 1


def test_a_repeated_idempotency_key_answers_as_the_first_time_and_credits_once(
    client: TestClient,
) -> None:
    key = {"Idempotency-Key": "k-1"}
    first = client.post("/demo-shop/orders/1234/credits", json={"amount": 30}, headers=key)
    again = client.post("/demo-shop/orders/1234/credits", json={"amount": 30}, headers=key)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert client.get("/demo-shop/orders/1234").json()["total_credited"] == 30
    # Another key is another credit.
    other = client.post(
        "/demo-shop/orders/1234/credits", json={"amount": 30}, headers={"Idempotency-Key": "k-2"}
    )
    assert other.json()["total_credited"] == 60


def test_a_key_reused_for_another_credit_is_refused(client: TestClient) -> None:
    key = {"Idempotency-Key": "k-1"}
    client.post("/demo-shop/orders/1234/credits", json={"amount": 30}, headers=key)
    reused = client.post("/demo-shop/orders/1234/credits", json={"amount": 31}, headers=key)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert client.get("/demo-shop/orders/1234").json()["total_credited"] == 30


@pytest.mark.parametrize(
    "body",
    [{}, {"amount": 0}, {"amount": -5}, {"amount": "thirty"}, {"amount": 20_000}],
)
def test_an_invalid_credit_is_refused(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/demo-shop/orders/1234/credits", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_credit"
    assert "amount" in response.json()["detail"]
    assert client.get("/demo-shop/orders/1234").json()["total_credited"] == 0


def test_a_body_that_is_not_json_is_refused(client: TestClient) -> None:
    response = client.post(
        "/demo-shop/orders/1234/credits",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_credit"


def test_each_app_has_its_own_shop() -> None:
    shop = DemoShop()
    shop.credit("1", 5, "k")
    assert DemoShop().credited == {}
    assert shop.credit("1", 5, "k") == {"order_id": "1", "credited": 5, "total_credited": 5}


# --------------------------------------------------------------------------- the tools file


def test_the_demo_tools_file_loads_and_credits_above_20_need_approval(
    run_script: ModuleType, tmp_path: Path
) -> None:
    path = run_script.write_demo_tools(tmp_path / "demo-tools.json")
    toolbox = load_toolbox(path, environ={})
    status = toolbox.get("order_status", None)
    credit = toolbox.get("credit_order", None)
    assert status is not None
    assert credit is not None
    assert status.approval_reason({"order_id": "1234"}) is None
    assert credit.approval_reason({"order_id": "1234", "amount": 30, "reason": "late"}) == (
        "amount > 20"
    )
    assert credit.approval_reason({"order_id": "1234", "amount": 10, "reason": "late"}) is None
    assert credit.invalid({"order_id": "1234", "amount": 30, "reason": "late"}) is None
    assert credit.invalid({"order_id": "12a", "amount": 30, "reason": "late"}) is not None
    assert {d["function"]["name"] for d in toolbox.definitions(None)} >= {
        "order_status",
        "credit_order",
    }


def test_the_demo_tools_reach_the_scripted_model(run_script: ModuleType, tmp_path: Path) -> None:
    text = run_script.write_demo_tools(tmp_path / "demo-tools.json").read_text()
    assert "http://127.0.0.1:8010/demo-shop/orders/{order_id}" in text
    assert "http://127.0.0.1:8010/demo-shop/orders/{order_id}/credits" in text
    assert run_script.SCRIPTED_MODEL.port == 8010


async def test_the_ai_responders_calls_reach_the_shop_and_credit_once_per_key(
    run_script: ModuleType, tmp_path: Path
) -> None:
    """The demo's tools as the ai-responder runs them (its HTTP tool, the Idempotency-Key it
    sets), against the scripted model's app in process."""
    toolbox = load_toolbox(run_script.write_demo_tools(tmp_path / "demo-tools.json"), environ={})
    transport = httpx.ASGITransport(app=create_app(ScriptedModelSettings()))
    async with httpx.AsyncClient(transport=transport) as client:
        status, credit = (toolbox.get(n, None) for n in ("order_status", "credit_order"))
        assert isinstance(status, HttpTool)
        assert isinstance(credit, HttpTool)
        status = dataclasses.replace(status, client=client)
        credit = dataclasses.replace(credit, client=client)

        arguments = {"order_id": "1234", "amount": 30, "reason": "late"}
        first = await credit.call(arguments, idempotency_key="key-1")
        resent = await credit.call(arguments, idempotency_key="key-1")
        assert first.ok, first.error
        assert resent.content == first.content
        assert tool_reply(first.content) == "Done — I credited 30 EUR to order 1234."

        looked_up = await status.call({"order_id": "1234"}, idempotency_key="key-2")
        assert looked_up.ok, looked_up.error
        assert json.loads(looked_up.content)["total_credited"] == 30
        assert tool_reply(looked_up.content).startswith("Order 1234 ")
