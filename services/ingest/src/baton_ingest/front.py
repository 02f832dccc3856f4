"""Ingest's front door for gateways over HTTP: every request made as one gateway, under its
key's rules (channels, routing attributes, verified end users), on its own threads only,
within its rate limits."""

from __future__ import annotations

from baton_contracts import ThreadRated
from baton_conversations import ConversationStore, Message, Thread

from .domain import NewThread, Submission
from .gateways import Gateway, channel_for, check_identity, check_routing, require_own
from .inputs import check_department, check_metadata, check_thread_id, check_user_id
from .limits import RateLimits
from .usecases import Accepted, Ingest


class Front:
    def __init__(
        self, *, ingest: Ingest, conversations: ConversationStore, limits: RateLimits
    ) -> None:
        self._ingest = ingest
        self._conversations = conversations
        self._limits = limits

    async def open_thread(self, gateway: Gateway, request: NewThread) -> Thread:
        """A conversation for one of the gateway's end users, owned by the gateway."""
        self._limits.admit(gateway.gateway_id)
        check_user_id(request.user_id)
        channel = channel_for(gateway, request.channel)
        if request.department is not None:
            check_department(request.department)
        check_metadata(request.metadata)
        check_routing(gateway, request.metadata)
        check_identity(gateway, request.user_id, request.user_hash)
        self._limits.admit_user(gateway.gateway_id, request.user_id)
        return await self._conversations.open_thread(
            user_id=request.user_id,
            channel=channel,
            department=request.department,
            metadata=request.metadata,
            gateway_id=gateway.gateway_id,
        )

    async def thread(self, gateway: Gateway, thread_id: str) -> Thread:
        """One of the gateway's threads; any other is a 404, as if it did not exist."""
        self._limits.admit(gateway.gateway_id)
        check_thread_id(thread_id)
        thread = require_own(gateway, await self._conversations.get_thread(thread_id), thread_id)
        self._limits.admit_user(gateway.gateway_id, thread.user_id)
        return thread

    async def submit(self, gateway: Gateway, submission: Submission) -> Accepted:
        thread = await self.thread(gateway, submission.thread_id)
        return await self._ingest.submit(submission, thread=thread)

    async def messages(self, gateway: Gateway, thread_id: str, *, limit: int) -> list[Message]:
        return await self._ingest.messages(await self.thread(gateway, thread_id), limit=limit)

    async def rate(
        self, gateway: Gateway, thread_id: str, *, score: int, comment: str | None
    ) -> ThreadRated:
        thread = await self.thread(gateway, thread_id)
        return await self._ingest.rate(thread, score=score, comment=comment)
