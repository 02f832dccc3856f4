"""Canned replies: the placeholder syntax, filling a template in for a thread, the rules of
what may be stored, and who may list and use which reply."""

from __future__ import annotations

import pytest

from baton_human_queue.canned import (
    CannedResponse,
    InvalidCannedResponseError,
    InvalidTemplateError,
    RenderContext,
    ShortcutTakenError,
    UnknownCannedResponseError,
    UnknownPlaceholderError,
    may_use_canned,
    placeholders,
    render,
)
from baton_human_queue.domain import Agent, InvalidTextError, WrongDepartmentError
from baton_human_queue.usecases.canned import CannedResponses
from tests.support.queue_memory import MemoryCanned

from .conftest import ALEX, BO, NOW, SAM, Queue, routed

CONTEXT = RenderContext(
    user_id="u-42", metadata={"name": "Ada", "order_id": "A-7", "tier": "vip"}, agent_name="Alex"
)


@pytest.fixture
def canned(queue: Queue) -> CannedResponses:
    return CannedResponses(
        canned=MemoryCanned(),
        tickets=queue.tickets,
        conversations=queue.conversations,
        max_length=queue.config.max_text_length,
        clock=queue.clock,
    )


# ---------------------------------------------------------------- the template language


def test_placeholders_are_filled_from_the_thread_and_the_agent() -> None:
    template = "Hi {user_name}, {agent_name} here. Order {metadata.order_id} ({metadata.tier})."
    assert render(template, CONTEXT).text == "Hi Ada, Alex here. Order A-7 (vip)."
    assert render(template, CONTEXT).missing == []
    assert placeholders(template) == [
        "user_name",
        "agent_name",
        "metadata.order_id",
        "metadata.tier",
    ]


def test_user_name_is_the_metadata_name_else_the_user_id() -> None:
    no_name = RenderContext(user_id="u-42", metadata={"name": "  "}, agent_name="Alex")
    assert render("Hi {user_name}", no_name).text == "Hi u-42"
    nobody = RenderContext(user_id=None, metadata={}, agent_name="Alex")
    assert render("Hi {user_name}", nobody).missing == ["user_name"]


def test_a_field_the_thread_lacks_renders_empty_and_is_reported_once() -> None:
    rendered = render("Order {metadata.ref}, again {metadata.ref}.", CONTEXT)
    assert rendered.text == "Order , again ."
    assert rendered.missing == ["metadata.ref"]


def test_double_braces_are_literal_braces() -> None:
    rendered = render("{{user_name}} is {user_name}; }} and {{", CONTEXT)
    assert rendered.text == "{user_name} is Ada; } and {"
    assert placeholders("{{user_name}}") == []


@pytest.mark.parametrize(
    "template",
    [
        "Hi {name}",
        "Hi {tier}",
        "{metadata.}",
        "{metadata.1x}",
        "{User_Name}",
        "{ user_name }",
        "{}",
    ],
)
def test_an_unknown_placeholder_is_refused(template: str) -> None:
    with pytest.raises(UnknownPlaceholderError, match="unknown placeholder"):
        placeholders(template)


@pytest.mark.parametrize("template", ["Hi {user_name", "Hi user_name}", "{a{b}"])
def test_a_brace_left_alone_is_refused(template: str) -> None:
    with pytest.raises((InvalidTemplateError, UnknownPlaceholderError)):
        placeholders(template)
    with pytest.raises(InvalidTemplateError, match="unmatched"):
        placeholders("Hi {user_name")


# ---------------------------------------------------------------- who may use a reply


def test_a_reply_is_used_by_its_departments_agents_and_a_shared_one_by_everyone() -> None:
    def reply(department: str | None) -> CannedResponse:
        return CannedResponse(
            canned_id="c",
            department=department,
            shortcut="hi",
            title="Hi",
            text="Hi",
            created_at=NOW,
            updated_at=NOW,
        )

    assert may_use_canned(ALEX, reply("billing"))
    assert not may_use_canned(BO, reply("billing"))
    assert may_use_canned(BO, reply(None))
    assert may_use_canned(Agent("a-x", "X", ("support",)), reply("support"))


# ---------------------------------------------------------------- managing and using them


async def test_what_an_admin_may_store(canned: CannedResponses) -> None:
    made = await canned.create(
        department=" billing ", shortcut="refund", title=" Refund ", text="Hi {user_name}"
    )
    assert (made.department, made.title) == ("billing", "Refund")
    with pytest.raises(UnknownPlaceholderError):
        await canned.create(department="billing", shortcut="x", title="X", text="{order}")
    with pytest.raises(InvalidCannedResponseError, match="shortcut"):
        await canned.create(department="billing", shortcut="Bad Cut", title="X", text="x")
    with pytest.raises(InvalidCannedResponseError, match="department"):
        await canned.create(department="bad/dept", shortcut="x", title="X", text="x")
    with pytest.raises(InvalidCannedResponseError, match="title"):
        await canned.create(department=None, shortcut="x", title="two\nlines", text="x")
    with pytest.raises(InvalidTextError):
        await canned.create(department=None, shortcut="x", title="X", text="bell \x07")
    with pytest.raises(InvalidTextError):
        await canned.create(department=None, shortcut="x", title="X", text="x" * 101)
    with pytest.raises(ShortcutTakenError):
        await canned.create(department="billing", shortcut="refund", title="Again", text="x")
    # The same shortcut in another department, or shared, is another reply.
    await canned.create(department="shipping", shortcut="refund", title="R", text="x")
    await canned.create(department=None, shortcut="refund", title="R", text="x")


async def test_an_update_changes_what_it_names_and_keeps_the_rules(
    canned: CannedResponses,
) -> None:
    made = await canned.create(department="billing", shortcut="a", title="A", text="one")
    await canned.create(department=None, shortcut="b", title="B", text="two")

    updated = await canned.update(made.canned_id, text="Hi {agent_name}", department=None)
    assert (updated.department, updated.shortcut, updated.text) == (None, "a", "Hi {agent_name}")
    assert (await canned.get(made.canned_id)).text == "Hi {agent_name}"
    with pytest.raises(ShortcutTakenError):
        await canned.update(made.canned_id, shortcut="b")
    with pytest.raises(UnknownPlaceholderError):
        await canned.update(made.canned_id, text="{nope}")
    await canned.delete(made.canned_id)
    with pytest.raises(UnknownCannedResponseError):
        await canned.get(made.canned_id)
    with pytest.raises(UnknownCannedResponseError):
        await canned.update(made.canned_id, title="gone")
    with pytest.raises(UnknownCannedResponseError):
        await canned.delete(made.canned_id)


async def test_agents_list_their_departments_replies_and_the_shared_ones(
    canned: CannedResponses,
) -> None:
    await canned.create(department="billing", shortcut="refund", title="R", text="r")
    await canned.create(department="shipping", shortcut="track", title="T", text="t")
    await canned.create(department=None, shortcut="hello", title="H", text="h")

    assert [c.shortcut for c in await canned.usable(ALEX)] == ["hello", "refund"]
    assert [c.shortcut for c in await canned.usable(BO)] == ["hello", "track"]
    assert [c.shortcut for c in await canned.usable(SAM, "billing")] == ["hello", "refund"]
    with pytest.raises(WrongDepartmentError):
        await canned.usable(BO, "billing")


async def test_a_tickets_replies_are_filled_in_for_its_thread(
    queue: Queue, canned: CannedResponses
) -> None:
    await canned.create(
        department="billing",
        shortcut="order",
        title="Order",
        text="Hi {user_name}, {agent_name} here about {metadata.order_id}.",
    )
    await canned.create(department="shipping", shortcut="track", title="T", text="t")
    await canned.create(department=None, shortcut="bye", title="Bye", text="Bye {metadata.x}")
    thread = await queue.conversations.open_thread(
        user_id="u-9", channel="web", department="billing", metadata={"order_id": "A-7"}
    )
    await queue.intake.open_conversation(routed(thread, await queue.user_says(thread)))
    ticket = await queue.only_ticket(thread)

    found = {r.canned.shortcut: r.rendered for r in await canned.for_ticket(SAM, ticket.ticket_id)}

    assert set(found) == {"bye", "order"}  # not shipping's, though Sam could not use it anyway
    assert found["order"].text == "Hi u-9, Sam here about A-7."
    assert (found["bye"].text, found["bye"].missing) == ("Bye ", ["metadata.x"])
    with pytest.raises(WrongDepartmentError):
        await canned.for_ticket(BO, ticket.ticket_id)
