"""What the commands print without ``--json``: the queue as a table, a ticket with its thread,
and the durations the console shows (time waiting, time left to the SLA)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from .api import Json

SUMMARY_WIDTH = 60


def print_json(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), file=out)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {s % 60:02d}s"
    return f"{s}s"


def waiting(ticket: Json, now: datetime) -> str:
    created = _parse(ticket["created_at"])
    end = _parse(ticket.get("resolved_at")) or now
    return duration((end - created).total_seconds()) if created else ""


def sla(ticket: Json, now: datetime) -> str:
    """Time left to the first human response, as the console shows it."""
    if ticket.get("first_response_at"):
        return "met"
    if ticket["status"] == "resolved":
        return "closed"
    due = _parse(ticket["sla_due_at"])
    assert due is not None
    left = (due - now).total_seconds()
    if left <= 0 or ticket.get("sla_breached"):
        return f"overdue {duration(-left)}"
    return f"{duration(left)} left"


def lease_until(ticket: Json) -> str:
    """`` until HH:MM:SS`` (local time) while the ticket is held, else nothing."""
    lease = _parse(ticket.get("lease_expires_at"))
    return f" until {lease.astimezone():%H:%M:%S}" if lease else ""


def summary(ticket: Json) -> str:
    kind = ticket["kind"]
    text = (
        (kind == "question" and ticket.get("question"))
        or (kind == "approval" and ticket.get("draft_text"))
        or (kind == "escalation" and ticket.get("suggestion"))
        or (kind == "action" and call(ticket.get("action")))
        or ticket.get("reason")
        or ""
    )
    return " ".join(str(text).split())


def call(action: Json | None) -> str:
    """A proposed tool call as one line: ``tool(key=value, ...)``."""
    if not action:
        return ""
    args = ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in action["arguments"].items()
    )
    return f"{action['tool_name']}({args})"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def holder(ticket: Json) -> str:
    agent = ticket.get("assigned_agent")
    return str(agent["name"]) if agent else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Plain text columns, padded to the widest cell; the last column is not padded."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in (headers, *rows):
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        print("  ".join([*cells, line[-1]]).rstrip(), file=out)


def print_queue(found: Sequence[Json], out: TextIO, now: datetime) -> None:
    if not found:
        print("no tickets", file=out)
        return
    rows = [
        [
            t["ticket_id"],
            t["kind"],
            str(t["priority"]),
            t["status"],
            t.get("department") or "-",
            waiting(t, now),
            sla(t, now),
            holder(t),
            clip(summary(t), SUMMARY_WIDTH),
        ]
        for t in found
    ]
    headers = ["ID", "KIND", "PRI", "STATUS", "DEPARTMENT", "WAITING", "SLA", "HOLDER", "SUMMARY"]
    table(headers, rows, out)


def message_label(message: Json) -> str:
    role = message["role"]
    if role == "user":
        label = "user"
    elif role == "tool":
        human = message.get("human") or {}
        label = f"tool result (answered by {human['name']})" if human.get("name") else "tool result"
    elif isinstance(message["content"], list):
        label = "AI tool call"
    elif message.get("provider") == "human":
        label = f"human {message.get('agent_name') or ''}".strip()
    else:
        label = f"AI {message.get('agent_name') or ''}".strip()
    if message.get("status"):
        label += f" [draft: {message['status']}]"
    elif not message.get("visible_to_user", True) and role != "tool":
        label += " [not shown to the user]"
    return label


def message_text(message: Json) -> str:
    content = message["content"]
    if not isinstance(content, list):
        return str(content)
    parts = []
    for part in content:
        if part.get("type") == "tool-call":
            args = ", ".join(f"{k}={v!r}" for k, v in (part.get("args") or {}).items())
            parts.append(f"{part.get('tool_name')}({args})")
        else:
            parts.append(str(part.get("result", "")))
    return "\n".join(parts)


def print_summary(summary: Json | None, out: TextIO) -> None:
    """The AI's summary of the conversation, first in a ticket, with its notice."""
    if not summary:
        return
    print("summary (by the AI, from the customer's words; check it against the thread):", file=out)
    for key, value in (
        ("issue", summary.get("issue")),
        ("tried", summary.get("tried") or "nothing yet"),
        ("mood", summary.get("mood")),
    ):
        print(f"  {key}: {value}", file=out)
    print(file=out)


def print_ticket(detail: Json, out: TextIO, now: datetime) -> None:
    t, ai, thread = detail["ticket"], detail["ai"], detail.get("thread") or {}
    print_summary(t.get("summary"), out)
    lease = _parse(t.get("lease_expires_at"))
    facts = [
        ("ticket", t["ticket_id"]),
        ("kind", t["kind"]),
        ("status", t["status"]),
        ("held by", holder(t) + (f" (lease until {lease.astimezone():%H:%M:%S})" if lease else "")),
        ("priority", str(t["priority"])),
        ("department", t.get("department") or "-"),
        ("waiting", waiting(t, now)),
        ("sla", sla(t, now)),
        ("thread", f"{t['thread_id']} (owner: {thread.get('owner', '-')})"),
        ("user", " via ".join(str(v) for v in (thread.get("user_id"), thread.get("channel")) if v)),
    ]
    if t.get("resolution"):
        r = t["resolution"]
        handback = f", handback {r['handback']}" if r.get("handback") else ""
        facts.append(("resolved", f"{r['action']} by {r['agent_name']}{handback}"))
    if t.get("expired_at"):
        then = "people took the thread" if t.get("fallback") == "human" else "the AI went on"
        facts.append(("expired", f"{t.get('expiry_reason') or 'unanswered'}; {then}"))
    elif t.get("expires_at") and t["status"] != "resolved":
        expires = _parse(t["expires_at"])
        left = duration((expires - now).total_seconds()) if expires else ""
        label = "decide in" if t["kind"] == "action" else "answer in"
        facts.append((label, f"{left} (then {t.get('fallback') or 'ai'} takes over)"))
    width = max(len(k) for k, _ in facts)
    for key, value in facts:
        print(f"{key.ljust(width)}  {value}", file=out)
    handed_over = [
        ("reason", ai.get("reason")),
        ("question", ai.get("question")),
        ("context", ai.get("context")),
        ("suggestion", ai.get("suggestion")),
        ("confidence", None if ai.get("confidence") is None else f"{ai['confidence']:.2f}"),
        ("draft", ai.get("draft_text")),
    ]
    present = [(k, v) for k, v in handed_over if v]
    if present:
        print("\nfrom the AI:", file=out)
        for key, value in present:
            print(f"  {key}: {value}", file=out)
    print_action(t.get("action"), detail.get("history") or [], out)
    print("\nmessages:", file=out)
    for message in detail["messages"]:
        at = _parse(message["created_at"])
        stamp = f"{at.astimezone():%H:%M:%S}" if at else ""
        print(f"  {stamp}  {message_label(message)}", file=out)
        for line in message_text(message).splitlines() or [""]:
            print(f"      {line}", file=out)
    print_notes(detail.get("notes") or [], out)


def print_action(action: Json | None, history: Sequence[Json], out: TextIO) -> None:
    """An action ticket's proposed tool call, and what happened to it so far."""
    if not action:
        return
    print("\nthe AI proposes this tool call (approve-action, or deny-action --reason):", file=out)
    print(f"  tool: {action['tool_name']}", file=out)
    if action.get("description"):
        print(f"  what it does: {action['description']}", file=out)
    print(f"  needs approval: {action.get('approval_reason') or 'always'}", file=out)
    print("  arguments:", file=out)
    for line in json.dumps(action["arguments"], indent=2, ensure_ascii=False).splitlines():
        print(f"    {line}", file=out)
    if not history:
        return
    print("\nhistory:", file=out)
    for entry in history:
        at = _parse(entry["at"])
        stamp = f"{at.astimezone():%H:%M:%S}" if at else ""
        by = f" by {entry['by']['name']}" if entry.get("by") else ""
        print(f"  {stamp}  {entry['what']}{by}{_history_details(entry)}", file=out)


def _history_details(entry: Json) -> str:
    what = entry["what"]
    if what == "edited":
        before = json.dumps(entry.get("previous_arguments"), ensure_ascii=False)
        after = json.dumps(entry.get("arguments"), ensure_ascii=False)
        return f": {before} -> {after}"
    if what in ("denied", "expired") and entry.get("reason"):
        return f": {entry['reason']}"
    if what == "executed":
        status = f" (HTTP {entry['status_code']})" if entry.get("status_code") else ""
        error = f": {entry['error']}" if entry.get("error") else ""
        return f": {entry.get('outcome')}{status} in {entry.get('duration_ms')} ms{error}"
    return ""


def print_notes(notes: Sequence[Json], out: TextIO) -> None:
    """The ticket's internal notes, under a heading that says the user never sees them."""
    if not notes:
        return
    print("\ninternal notes (the team's only; never shown to the user):", file=out)
    for note in notes:
        at = _parse(note["created_at"])
        stamp = f"{at.astimezone():%H:%M:%S}" if at else ""
        print(f"  {stamp}  note by {note['author']['name']}", file=out)
        for line in str(note["text"]).splitlines() or [""]:
            print(f"      {line}", file=out)


def owner(owner: str | None, agent_id: str | None) -> str:
    if owner is None:
        return "-"
    name = "the AI" if owner == "ai" else "people"
    return f"{name} ({agent_id})" if agent_id else name


def print_ownership(changes: Sequence[Json], out: TextIO) -> None:
    """A thread's owner changes, oldest first: when, from whom, to whom, and why."""
    if not changes:
        print("no ownership changes", file=out)
        return
    rows = []
    for change in changes:
        at = _parse(change["at"])
        rows.append(
            [
                f"{at.astimezone():%Y-%m-%d %H:%M:%S}" if at else "",
                owner(change.get("previous_owner"), None),
                owner(change["owner"], change.get("agent_id")),
                change.get("reason") or "",
            ]
        )
    table(["AT", "FROM", "TO", "REASON"], rows, out)
