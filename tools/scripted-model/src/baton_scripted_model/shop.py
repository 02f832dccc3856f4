"""The Baton Demo Shop's order service: the outside world the offline demo's tools reach.

``make run`` gives the AI two tools that call it (:func:`demo_tools`): ``order_status`` reads
an order, ``credit_order`` credits money back on one. Every order number is an order, made up
from the number; credits live in memory until the server stops.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

PREFIX = "/demo-shop"
APPROVAL_ABOVE = 20
"""Credits above this many euros wait for a person's approval in the demo."""

STATES = ("processing", "shipped", "in transit", "delivered")
_ORDER_ID = re.compile(r"[0-9]{1,12}")


def order_facts(order_id: str, today: date) -> dict[str, Any]:
    """The order ``order_id`` as the shop knows it: the same number, the same state, and a
    delivery date a few days from ``today`` (before it, once delivered)."""
    seed = zlib.crc32(order_id.encode())
    state = STATES[seed % len(STATES)]
    days = timedelta(days=1 + (seed >> 8) % 5)
    delivery = today - days if state == "delivered" else today + days
    return {"order_id": order_id, "state": state, "delivery_date": delivery.isoformat()}


class CreditRequest(BaseModel):
    amount: float = Field(gt=0, le=10_000, description="Euros to credit back.")
    reason: str = Field(default="", max_length=1000)


class KeyReusedError(Exception):
    """An Idempotency-Key came back with a different credit."""


@dataclass
class DemoShop:
    """The credits per order, and the answer given to each Idempotency-Key."""

    credited: dict[str, float] = field(default_factory=dict)
    _answers: dict[str, tuple[tuple[str, float], dict[str, Any]]] = field(default_factory=dict)

    def credit(self, order_id: str, amount: float, key: str | None) -> dict[str, Any]:
        """Credit ``amount`` to the order once per ``key``: a repeated key is the same
        request (a client resending after a crash), answered as the first time."""
        request = (order_id, amount)
        if key is not None and key in self._answers:
            first, answer = self._answers[key]
            if first != request:
                raise KeyReusedError(key)
            return answer
        total = round(self.credited.get(order_id, 0.0) + amount, 2)
        self.credited[order_id] = total
        answer = {"order_id": order_id, "credited": amount, "total_credited": total}
        if key is not None:
            self._answers[key] = (request, answer)
        return answer


def _problem(status: int, detail: str, code: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status)


def _unknown(order_id: str) -> JSONResponse:
    return _problem(404, f"no order {order_id!r}: order numbers are digits", "unknown_order")


def shop_routes(shop: DemoShop) -> APIRouter:
    """The shop's HTTP surface, under ``/demo-shop``."""
    router = APIRouter(prefix=PREFIX, tags=["demo shop"])

    @router.get("/orders/{order_id}")
    async def get_order(order_id: str) -> JSONResponse:
        if not _ORDER_ID.fullmatch(order_id):
            return _unknown(order_id)
        facts = order_facts(order_id, datetime.now(UTC).date())
        return JSONResponse({**facts, "total_credited": shop.credited.get(order_id, 0.0)})

    @router.post("/orders/{order_id}/credits")
    async def credit_order(order_id: str, request: Request) -> JSONResponse:
        if not _ORDER_ID.fullmatch(order_id):
            return _unknown(order_id)
        try:
            body = CreditRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return _problem(422, f"invalid credit: {problems}", "invalid_credit")
        key = request.headers.get("Idempotency-Key")
        try:
            return JSONResponse(shop.credit(order_id, round(body.amount, 2), key))
        except KeyReusedError:
            return _problem(
                422,
                "this Idempotency-Key was used for another credit; use a new key",
                "idempotency_key_reused",
            )

    return router


def demo_tools(base_url: str) -> dict[str, Any]:
    """The tools file of the demo (docs/tools.md): the shop's two endpoints at ``base_url``
    (where the scripted model listens), a credit above ``APPROVAL_ABOVE`` approved first."""
    orders = f"{base_url.rstrip('/')}{PREFIX}/orders"
    order_id = {
        "type": "string",
        "pattern": "^[0-9]{1,12}$",
        "description": "The order number, digits only.",
    }
    return {
        "tools": [
            {
                "name": "order_status",
                "description": "Look up an order of the Baton Demo Shop: its state "
                "(processing, shipped, in transit, delivered) and its delivery date.",
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": order_id},
                    "required": ["order_id"],
                    "additionalProperties": False,
                },
                "approval": "never",
                "http": {"method": "GET", "url": f"{orders}/{{order_id}}", "timeout_s": 5},
            },
            {
                "name": "credit_order",
                "description": "Credit money back to the customer for an order (in EUR), for "
                "example after a late or damaged delivery. Returns what was credited.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "order_id": order_id,
                        "amount": {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000},
                        "reason": {"type": "string", "maxLength": 1000},
                    },
                    "required": ["order_id", "amount", "reason"],
                    "additionalProperties": False,
                },
                "approval": f"amount > {APPROVAL_ABOVE}",
                "http": {
                    "method": "POST",
                    "url": f"{orders}/{{order_id}}/credits",
                    "timeout_s": 5,
                },
            },
        ]
    }
