"""What the services' use cases need of the conversation core: a small interface, so they
can be tested against an in-memory one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from baton_contracts import Event, Owner, ThreadAssigned, ThreadRated

from ._model import Appended, Because, Message, RatedVia, Thread, ThreadResolution

Announce = Sequence[Event] | Callable[[Thread], Sequence[Event]]
"""The events that announce a stored message, or how to make them from the thread as it
was when the message took its position."""


class ConversationStore(Protocol):
    async def open_thread(
        self,
        *,
        user_id: str,
        channel: str | None,
        department: str | None,
        metadata: dict[str, str],
        thread_id: str | None = None,
        gateway_id: str | None = None,
    ) -> Thread:
        """A new thread (with ``thread_id``, that one, or the existing thread of that id),
        owned by ``gateway_id``, the gateway that opens it, if any."""
        ...

    async def get_thread(self, thread_id: str) -> Thread | None: ...

    async def require_thread(self, thread_id: str) -> Thread:
        """The thread, or :class:`~baton_conversations.UnknownThreadError` (a 404)."""
        ...

    async def append(
        self, message: Message, *, announce: Announce = (), thread: Thread | None = None
    ) -> Appended:
        """Store ``message`` at the end of its thread, with the events announcing it;
        ``thread`` is the thread as the caller has just read it (read here without it)."""
        ...

    async def get_message(self, message_id: uuid.UUID) -> Message | None: ...

    async def window(
        self, thread: Thread | str, *, limit: int, visible_only: bool = False
    ) -> list[Message]:
        """The thread's last ``limit`` messages (only those the user sees, with
        ``visible_only``), oldest first."""
        ...

    async def settle_draft(self, message_id: uuid.UUID, changes: dict[str, Any]) -> Message | None:
        """Apply ``changes`` to a draft still awaiting its decision; None if it is not."""
        ...

    async def assign(
        self,
        thread: Thread,
        *,
        owner: Owner,
        agent_id: str | None,
        reason: str,
        because: Because,
        only_from: Owner | None = None,
    ) -> ThreadAssigned | None:
        """Give the thread to ``owner`` (and ``agent_id``), announced by ``thread.assigned``
        in the same write; with ``only_from``, only while that is the thread's owner. None
        when nothing changed (or the change was made before: ``because`` names it)."""
        ...

    async def set_department(self, thread_id: str, department: str | None) -> Thread:
        """Move the thread to ``department``; the same department again changes nothing.
        :class:`~baton_conversations.UnknownThreadError` for an unknown thread."""
        ...

    async def record_resolution(self, thread_id: str, resolution: ThreadResolution) -> None:
        """Remember that a person resolved the thread's conversation, as its latest
        resolution unless a later one is recorded; the same resolution again changes
        nothing."""
        ...

    async def rate(
        self,
        thread: Thread,
        *,
        score: int,
        comment: str | None,
        via: RatedVia,
        because: Because,
    ) -> ThreadRated | None:
        """Record the user's rating of what ``thread`` is rated for now (its latest
        resolution, or the AI's handling when no person resolved it), announced by
        ``thread.rated`` in the same write. Once per resolution, under any concurrency:
        None when it is rated already; the same rating again (``because`` names it)
        returns its event."""
        ...
