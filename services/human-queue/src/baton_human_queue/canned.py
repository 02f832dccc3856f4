"""Canned replies: per-department templates agents insert into a reply, and how their
placeholders are read and filled. Free of I/O.

A template's placeholders are written in braces:

- ``{user_name}``: the thread's ``metadata.name`` if it has one, else its user id;
- ``{agent_name}``: the name of the agent who uses the reply;
- ``{metadata.KEY}``: the thread's metadata field ``KEY`` (``{metadata.tier}``,
  ``{metadata.order_id}``).

``{{`` and ``}}`` stand for a literal brace. Anything else in braces, and a brace left
alone, is refused when the template is stored, so a typo is found by the admin who made it
rather than by a customer. A field the thread lacks renders as nothing, and the rendering
lists it in ``missing`` so the agent can fill it in before sending.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from .agents import DEPARTMENT_PATTERN
from .domain import Agent, QueueError, WrongDepartmentError, check_text

USER_NAME = "user_name"
AGENT_NAME = "agent_name"
METADATA_PREFIX = "metadata."
METADATA_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
"""The rule of a thread's metadata keys (ingest's)."""
SHORTCUT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
SHORTCUT = re.compile(SHORTCUT_PATTERN)
MAX_TITLE_LENGTH = 200
SHARED = "*"
"""The scope of a reply for every department; no department name can be ``*``."""
_TOKENS = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class UnknownPlaceholderError(QueueError):
    code = "unknown_placeholder"


class InvalidTemplateError(QueueError):
    code = "invalid_template"


class InvalidCannedResponseError(QueueError):
    code = "invalid_canned_response"


class UnknownCannedResponseError(QueueError):
    status = 404
    code = "unknown_canned_response"


class ShortcutTakenError(QueueError):
    status = 409
    code = "shortcut_taken"


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Placeholder:
    name: str


Part = Text | Placeholder


def known_placeholder(name: str) -> bool:
    if name in (USER_NAME, AGENT_NAME):
        return True
    return name.startswith(METADATA_PREFIX) and bool(
        METADATA_KEY.match(name.removeprefix(METADATA_PREFIX))
    )


def parse_template(template: str) -> list[Part]:
    """The template's literal text and placeholders, in order; refused when a brace is
    unmatched or a placeholder is unknown."""
    parts: list[Part] = []
    at = 0
    for match in _TOKENS.finditer(template):
        if match.start() > at:
            parts.append(Text(template[at : match.start()]))
        at = match.end()
        token = match.group()
        if token in ("{{", "}}"):
            parts.append(Text(token[0]))
        elif match.group(1) is None:
            raise InvalidTemplateError(
                f"the template has an unmatched {token!r} at position {match.start()}; "
                f"write {token * 2!r} for a literal brace"
            )
        elif known_placeholder(match.group(1)):
            parts.append(Placeholder(match.group(1)))
        else:
            raise UnknownPlaceholderError(
                f"unknown placeholder {token!r} at position {match.start()}; use "
                "{user_name}, {agent_name} or {metadata.KEY}, and {{ or }} for a brace"
            )
    if at < len(template):
        parts.append(Text(template[at:]))
    return parts


def placeholders(template: str) -> list[str]:
    """The template's placeholders, each once, in order of first use."""
    names = (p.name for p in parse_template(template) if isinstance(p, Placeholder))
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class RenderContext:
    """What a template is filled with: the thread's user and metadata, and the agent."""

    user_id: str | None
    metadata: Mapping[str, str]
    agent_name: str

    def value(self, name: str) -> str | None:
        if name == AGENT_NAME:
            return self.agent_name
        if name == USER_NAME:
            given = (self.metadata.get("name") or "").strip()
            return given or self.user_id or None
        value = self.metadata.get(name.removeprefix(METADATA_PREFIX))
        return value if value else None


@dataclass(frozen=True)
class Rendered:
    text: str
    missing: list[str]
    """The placeholders the thread had no value for; they render as nothing."""


def render(template: str, context: RenderContext) -> Rendered:
    out: list[str] = []
    missing: list[str] = []
    for part in parse_template(template):
        if isinstance(part, Text):
            out.append(part.text)
            continue
        value = context.value(part.name)
        if value is None:
            missing.append(part.name)
        out.append(value or "")
    return Rendered("".join(out), list(dict.fromkeys(missing)))


class CannedResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    canned_id: str
    department: str | None
    """None: a reply for every department."""
    shortcut: str
    title: str
    text: str
    created_at: AwareDatetime
    updated_at: AwareDatetime


def scope_of(department: str | None) -> str:
    return department if department is not None else SHARED


def may_use_canned(agent: Agent, canned: CannedResponse) -> bool:
    """Who may list and use a canned reply: the agents serving its department, and everyone
    for a reply without one. The one place this is decided, so a role (a supervisor seeing
    every department's) is added here."""
    return agent.serves(canned.department)


def check_department_listing(agent: Agent, department: str | None) -> None:
    """An agent lists only the canned replies of departments it serves."""
    if department is not None and not agent.serves(department):
        raise WrongDepartmentError(f"{agent.name} does not serve department {department!r}")


def for_ticket_department(canned: CannedResponse, department: str | None) -> bool:
    """A ticket of a department offers its department's replies and the shared ones; a
    ticket without a department offers every reply its agent may use."""
    return department is None or canned.department in (None, department)


def check_department(department: str | None) -> str | None:
    if department is None:
        return None
    cleaned = department.strip()
    if not DEPARTMENT_PATTERN.match(cleaned):
        raise InvalidCannedResponseError(
            f"department {department!r} must be 1-100 letters, digits, spaces, '.', '_' or '-'"
        )
    return cleaned


def check_shortcut(shortcut: str) -> str:
    if not SHORTCUT.match(shortcut):
        raise InvalidCannedResponseError(
            f"shortcut {shortcut!r} must be 1-40 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return shortcut


def check_title(title: str) -> str:
    cleaned = title.strip()
    if not cleaned or len(cleaned) > MAX_TITLE_LENGTH or "\n" in cleaned or "\r" in cleaned:
        raise InvalidCannedResponseError(
            f"the title must be one line of 1 to {MAX_TITLE_LENGTH} characters"
        )
    check_text(cleaned, max_length=MAX_TITLE_LENGTH, what="the title")
    return cleaned


def check_template(text: str, *, max_length: int) -> str:
    check_text(text, max_length=max_length, what="the text")
    parse_template(text)
    return text


class CannedStore(Protocol):
    async def add(self, canned: CannedResponse) -> None:
        """Store a new reply; :class:`ShortcutTakenError` when its department (or the shared
        replies) has the shortcut already."""
        ...

    async def get(self, canned_id: str) -> CannedResponse | None: ...

    async def replace(self, canned: CannedResponse) -> bool:
        """Store the changed reply; False when it is gone. :class:`ShortcutTakenError` as
        for :meth:`add`."""
        ...

    async def delete(self, canned_id: str) -> bool: ...

    async def search(self, departments: Sequence[str | None] | None) -> list[CannedResponse]:
        """Replies of these departments (None among them: the shared ones), or all of them;
        by department, then shortcut."""
        ...


def stamp(now: datetime) -> datetime:
    # MongoDB keeps milliseconds: a reply read back must equal the one written.
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
