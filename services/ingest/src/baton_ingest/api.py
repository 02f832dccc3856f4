"""Ingest's HTTP API for gateways."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from pydantic import BaseModel, ConfigDict, Field

from baton_conversations import Message

from .domain import Submission
from .usecases import Ingest


class CreateThread(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=200, description="The gateway's user id.")
    channel: str | None = Field(default=None, max_length=50, examples=["web"])
    department: str | None = Field(default=None, max_length=100, examples=["billing"])
    metadata: dict[str, str] = Field(
        default_factory=dict,
        max_length=32,
        description="Free-form attributes; `tier` (e.g. `vip`) is used by routing rules.",
    )


class ThreadCreated(BaseModel):
    thread_id: str


class ThreadView(BaseModel):
    thread_id: str
    user_id: str | None
    channel: str | None
    department: str | None
    owner: str
    status: str
    created_at: datetime


class PostMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="What the user wrote.")
    user_id: str | None = Field(default=None, max_length=200)
    respond: bool = Field(
        default=True, description="False stores the message without anyone answering it."
    )


class MessageAccepted(BaseModel):
    message_id: uuid.UUID


class MessageView(BaseModel):
    message_id: uuid.UUID
    role: str
    text: str
    agent_name: str | None
    provider: str | None
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> MessageView:
        return cls(
            message_id=message.message_id,
            role=message.role,
            text=message.text,
            agent_name=message.agent_name,
            provider=message.provider,
            created_at=message.created_at,
        )


class MessageList(BaseModel):
    messages: list[MessageView]


def api_router(ingest: Ingest) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["threads"])

    @router.post("/threads", status_code=status.HTTP_201_CREATED)
    async def create_thread(body: CreateThread) -> ThreadCreated:
        """Open a conversation thread for a user."""
        thread = await ingest.open_thread(
            user_id=body.user_id,
            channel=body.channel,
            department=body.department,
            metadata=body.metadata,
        )
        return ThreadCreated(thread_id=thread.thread_id)

    @router.get("/threads/{thread_id}")
    async def get_thread(thread_id: str) -> ThreadView:
        thread = await ingest.get_thread(thread_id)
        return ThreadView(
            thread_id=thread.thread_id,
            user_id=thread.user_id,
            channel=thread.channel,
            department=thread.department,
            owner=thread.owner,
            status=thread.status,
            created_at=thread.created_at,
        )

    @router.post(
        "/threads/{thread_id}/messages",
        status_code=status.HTTP_202_ACCEPTED,
        responses={404: {}, 409: {}, 413: {}, 422: {}},
    )
    async def post_message(
        thread_id: str,
        body: PostMessage,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> MessageAccepted:
        """Accept a user message. The reply arrives later as a `message.sent` event.

        With an `Idempotency-Key` header, repeating the request stores one message and
        returns the same `message_id`.
        """
        submission = Submission(
            thread_id=thread_id,
            text=body.text,
            user_id=body.user_id,
            respond=body.respond,
            idempotency_key=idempotency_key,
        )
        accepted = await ingest.submit(submission)
        return MessageAccepted(message_id=accepted.message_id)

    @router.get("/threads/{thread_id}/messages")
    async def list_messages(
        thread_id: str, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> MessageList:
        """The thread as the user sees it, oldest first: drafts and tool traffic are hidden."""
        messages = await ingest.messages(thread_id, limit=limit)
        return MessageList(messages=[MessageView.of(m) for m in messages])

    return router
