"""How the scripted model answers when no scripted rule matches: the offline demo's behaviour.

It plays Baton's model roles: the router's classifier (structured output named
``route_classification``), the AI responder (answers a small FAQ, asks a human colleague
through the ``ask_human`` tool otherwise, and continues once the human's answer comes back),
and the summary of a ticket for the agent (``ticket_summary``: issue, what was tried, mood).
When the demo's shop tools are offered (``order_status``, ``credit_order``; see ``shop.py``),
it calls them for a question about an order or a request for money back on one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .conversation import Conversation, Decision, FunctionCallOut, Text, ToolCalls
from .schemas import conform, minimal_instance

CLASSIFIER_SCHEMA = "route_classification"
REPLY_SCHEMA = "assistant_reply"
SUMMARY_SCHEMA = "ticket_summary"
ASK_HUMAN = "ask_human"
ORDER_STATUS = "order_status"
CREDIT_ORDER = "credit_order"
DEFAULT_CREDIT = 25
"""Euros ``credit_order`` is called with when the customer names no amount."""

COMPANY = "Baton Demo Shop"


@dataclass(frozen=True)
class FaqEntry:
    key: str
    pattern: re.Pattern[str]
    answer: str


def _faq(key: str, pattern: str, answer: str) -> FaqEntry:
    return FaqEntry(key, re.compile(pattern, re.IGNORECASE), answer)


# Order matters: the first entry whose pattern is found in the message answers it.
FAQ: tuple[FaqEntry, ...] = (
    _faq(
        "opening_hours",
        r"\b(opening|business|office|store|support) hours\b|\bwhen (are|do) you (open|close)"
        r"|\bopen(ed)? (on|at|today|tomorrow|until|now)\b|\byour hours\b",
        f"{COMPANY} is open Monday to Friday 9:00-18:00 and Saturday 10:00-14:00 (CET). "
        "Our online shop and this chat are available around the clock.",
    ),
    _faq(
        "shipping",
        r"\b(ship|shipping|shipped|delivery|deliver|delivered|dispatch\w*|arrive|courier)\b",
        "Standard shipping takes 3-5 business days and express 1-2. Orders placed before "
        "14:00 leave our warehouse the same day, and you get a tracking link by email.",
    ),
    _faq(
        "returns",
        r"\b(return|returns|returning|refund\w*|exchange|money back)\b",
        "You can return any unused item within 30 days for a full refund: start the return "
        "under 'My orders' and print the free label. Refunds reach your account 5-7 business "
        "days after the parcel arrives.",
    ),
    _faq(
        "password_reset",
        r"\b(password|log ?in|sign ?in|locked out|can'?t access my account)\b",
        "To reset your password, choose 'Forgot password?' on the sign-in page and follow the "
        "link we email you; it is valid for 30 minutes. Check your spam folder if it does "
        "not arrive.",
    ),
    _faq(
        "payment_methods",
        r"\b(pay|payment|payments|credit card|debit card|paypal|invoice|klarna)\b",
        "We accept Visa, Mastercard, American Express, PayPal and Klarna. Business customers "
        "can also pay by invoice within 14 days.",
    ),
    _faq(
        "contact",
        r"\b(contact|phone|telephone|e-?mail address|email you|call you|postal address)\b",
        f"You can reach {COMPANY} at support@baton-demo.example or +1 555 0100 "
        "(Monday to Friday 9:00-18:00 CET), or right here in this chat.",
    ),
    _faq(
        "greeting",
        r"^\s*(hi|hello|hey|hallo|good (morning|afternoon|evening))\b[\s!.,]*(there)?[\s!.,]*$",
        f"Hello! I'm the {COMPANY} assistant. I can help with orders, shipping, returns, "
        "payments and your account. What can I do for you?",
    ),
)

# A person, or trouble only a person should handle.
_WANTS_PERSON = re.compile(
    r"\b(human|person|agent|manager|supervisor|representative|operator|someone real"
    r"|real (person|someone|human)|talk to (somebody|someone))\b",
    re.IGNORECASE,
)
_LEGAL = re.compile(r"\b(lawyer|attorney|legal|lawsuit|sue|suing|court)\b", re.IGNORECASE)

FOLLOW_UP = (
    "Thanks for your message. I can't answer that one myself, so a colleague from the "
    f"{COMPANY} team will follow up with you here shortly."
)


def find_faq(text: str) -> FaqEntry | None:
    """The FAQ entry that answers ``text``, if any."""
    for entry in FAQ:
        if entry.pattern.search(text):
            return entry
    return None


def default_decision(conversation: Conversation, new_call_id: Callable[[], str]) -> Decision:
    """The built-in answer to ``conversation``."""
    if conversation.schema_name == CLASSIFIER_SCHEMA:
        return _classify(conversation)
    if conversation.schema_name == SUMMARY_SCHEMA:
        return _summarize(conversation)

    forced = conversation.forced_tool or (
        _first_tool(conversation) if conversation.tool_required else None
    )
    if forced is not None:
        return _call(conversation, forced, new_call_id, rule="default:forced_tool")

    if conversation.last_is_tool_result:
        answer = (conversation.tool_result or "").strip()
        return _reply(
            conversation,
            tool_reply(answer),
            confidence=0.85,
            requires_human=False,
            reason="Answered with the information a colleague or a tool provided.",
            rule="default:tool_result",
        )

    shop_call = order_call(conversation.last_user, conversation.tools)
    if shop_call is not None:
        name, arguments = shop_call
        call = FunctionCallOut(
            new_call_id(),
            name,
            json.dumps(conform(arguments, conversation.tools[name]), ensure_ascii=False),
        )
        return Decision(ToolCalls((call,)), rule=f"default:{name}")

    entry = find_faq(conversation.last_user)
    if entry is not None:
        return _reply(
            conversation,
            entry.answer,
            confidence=0.9,
            requires_human=False,
            reason=f"Answered from the FAQ ({entry.key}).",
            rule=f"default:faq:{entry.key}",
        )

    if ASK_HUMAN in conversation.tools:
        return _call(conversation, ASK_HUMAN, new_call_id, rule="default:ask_human")

    return _reply(
        conversation,
        FOLLOW_UP,
        confidence=0.3,
        requires_human=True,
        reason="The question is not covered by the FAQ and no colleague could be asked.",
        rule="default:follow_up",
    )


_MONEY_BACK = re.compile(
    r"\b(refund\w*|credit(s|ed)?\b(?!\s+card)|money back|reimburs\w*|compensat\w*)",
    re.IGNORECASE,
)
_WHERE = re.compile(
    r"\b(where|status|track\w*|when will|arriv\w*|deliver\w*|ship\w*)\b", re.IGNORECASE
)
_ORDER_NUMBER = re.compile(
    r"\border(?:\s+(?:number|no\.?|nr\.?|id))?\s*[#:]?\s*#?(\d{1,12})\b", re.IGNORECASE
)
_NUMBER = r"(\d+(?:[.,]\d{1,2})?)"
_AMOUNT = re.compile(
    rf"(?:€|\bEUR\b)\s*{_NUMBER}\b|\b{_NUMBER}\s*(?:€|EUR\b|euros?\b)",
    re.IGNORECASE,
)


def credit_amount(text: str) -> float | int | None:
    """The euros named in ``text`` ("20 EUR", "€20", "20 euros", "12,50 €"), if any."""
    found = _AMOUNT.search(text)
    if found is None:
        return None
    value = float((found.group(1) or found.group(2)).replace(",", "."))
    return int(value) if value.is_integer() else value


def order_call(text: str, tools: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The demo shop's tool call that ``text`` asks for, when that tool is offered: money
    back on an order is ``credit_order``, where an order is ``order_status``."""
    number = _ORDER_NUMBER.search(text)
    if number is None:
        return None
    order_id = number.group(1)
    if CREDIT_ORDER in tools and _MONEY_BACK.search(text):
        amount = credit_amount(text)
        return CREDIT_ORDER, {
            "order_id": order_id,
            "amount": DEFAULT_CREDIT if amount is None else amount,
            "reason": f"The customer asked: {text.strip()}"[:500],
        }
    if ORDER_STATUS in tools and _WHERE.search(text):
        return ORDER_STATUS, {"order_id": order_id}
    return None


def tool_reply(answer: str) -> str:
    """The reply to a tool's answer: a colleague's words as they are, and the demo shop's
    JSON answers (and Baton's denials and errors) in a sentence."""
    found = _json_object(answer)
    if found is None:
        return f"Thanks for waiting — {answer}"
    if isinstance(found.get("note"), str) and "result" in found:
        # An agent edited the call before approving it: the tool's answer is inside.
        inner = found["result"]
        text = inner if isinstance(inner, str) else json.dumps(inner, ensure_ascii=False)
        return f"{tool_reply(text)} ({found['note']}.)"
    if found.get("denied") is True:
        reason = found.get("reason")
        if reason == "expired":
            return "I'm sorry — nobody could approve that in time, so I have not done it."
        why = f": {reason}" if isinstance(reason, str) and reason else "."
        return f"I'm sorry — my colleague did not approve this{why}"
    if "error" in found:
        return f"I'm sorry, that did not work just now ({found['error']}). Please try again later."
    order = found.get("order_id")
    if order is not None and "credited" in found:
        done = f"Done — I credited {_euros(found['credited'])} to order {order}."
        total = found.get("total_credited")
        if total is not None and total != found["credited"]:
            done += f" In all, {_euros(total)} have been credited to it."
        return done
    if order is not None and isinstance(found.get("state"), str):
        state, when = found["state"], found.get("delivery_date")
        if state == "delivered":
            return f"Order {order} was delivered" + (f" on {when}." if when else ".")
        return f"Order {order} is {state}" + (f"; it should arrive by {when}." if when else ".")
    return f"Thanks for waiting — {answer}"


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _euros(amount: Any) -> str:
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        return f"{int(amount)} EUR" if float(amount).is_integer() else f"{amount:.2f} EUR"
    return f"{amount} EUR"


def _classify(conversation: Conversation) -> Decision:
    text = conversation.last_user
    if _LEGAL.search(text):
        verdict: dict[str, Any] = {
            "handler": "human",
            "reason": "The customer mentions legal action; a person should handle it.",
            "confidence": 0.95,
        }
    elif _WANTS_PERSON.search(text):
        verdict = {
            "handler": "human",
            "reason": "The customer asks to talk to a person.",
            "confidence": 0.9,
        }
    else:
        verdict = {
            "handler": "ai",
            "reason": "A routine question the assistant can answer.",
            "confidence": 0.8,
        }
    content = conform(verdict, conversation.json_schema)
    return Decision(Text(json.dumps(content, ensure_ascii=False)), rule="default:classifier")


_ANGRY = re.compile(
    r"\b(angry|furious|unacceptable|ridiculous|outrageous|scam|worst|disgrace\w*)\b|!{2,}",
    re.IGNORECASE,
)
_FRUSTRATED = re.compile(
    r"\b(still|again|waiting|frustrat\w*|annoy\w*|disappoint\w*|not working|broken|never)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(r"\b(thanks|thank you|great|perfect|awesome|love)\b", re.IGNORECASE)
_CUSTOMER_LINE = re.compile(r"^Customer:\s*(.+)$", re.MULTILINE)
_HELPER_LINE = re.compile(
    r"^(AI assistant[^:]*|Colleague [^:]*|Answer to that question|Agent [^:]*):\s*(.+)$",
    re.MULTILINE,
)


def _summarize(conversation: Conversation) -> Decision:
    """A summary from the transcript in the last user message: the customer's latest words
    as the issue, what the assistant and colleagues said as what was tried, and a mood from
    the customer's wording."""
    transcript = conversation.last_user
    said = _CUSTOMER_LINE.findall(transcript) or [transcript.strip() or "(nothing said)"]
    helped = [f"{who}: {what}" for who, what in _HELPER_LINE.findall(transcript)]
    words = " ".join(said)
    if _ANGRY.search(words):
        mood = "angry"
    elif _FRUSTRATED.search(words):
        mood = "frustrated"
    elif _POSITIVE.search(words):
        mood = "positive"
    else:
        mood = "neutral"
    summary = {
        "issue": f"The customer says: {said[-1]}"[:1000],
        "tried": " / ".join(helped)[:2000],
        "mood": mood,
    }
    content = conform(summary, conversation.json_schema)
    return Decision(Text(json.dumps(content, ensure_ascii=False)), rule="default:summary")


def _first_tool(conversation: Conversation) -> str | None:
    if ASK_HUMAN in conversation.tools:
        return ASK_HUMAN
    return next(iter(conversation.tools), None)


def _call(
    conversation: Conversation, name: str, new_call_id: Callable[[], str], *, rule: str
) -> Decision:
    if name == ASK_HUMAN:
        message = conversation.last_user.strip()
        arguments: Any = {
            "question": f'A customer asks: "{message}". What should I tell them?',
            "context": message,
        }
        arguments = conform(arguments, conversation.tools.get(name))
    else:
        arguments = minimal_instance(conversation.tools.get(name) or {"type": "object"})
    call = FunctionCallOut(new_call_id(), name, json.dumps(arguments, ensure_ascii=False))
    return Decision(ToolCalls((call,)), rule=rule)


def _reply(
    conversation: Conversation,
    text: str,
    *,
    confidence: float,
    requires_human: bool,
    reason: str,
    rule: str,
) -> Decision:
    structured = {
        "reply": text,
        "confidence": confidence,
        "requires_human": requires_human,
        "reason": reason,
    }
    if conversation.schema_name == REPLY_SCHEMA:
        content = json.dumps(conform(structured, conversation.json_schema), ensure_ascii=False)
    elif conversation.schema_name is not None:
        rule = "default:schema_instance"
        content = json.dumps(minimal_instance(conversation.json_schema or {}), ensure_ascii=False)
    elif conversation.response_format == "json_object":
        content = json.dumps(structured, ensure_ascii=False)
    else:
        content = text
    return Decision(Text(content), rule=rule)
