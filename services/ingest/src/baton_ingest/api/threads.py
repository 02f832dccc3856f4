"""The gateways' routes: threads, their messages, and the user's rating of a conversation.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from baton_contracts import Handler
from baton_conversations import Message

from ..domain import NewThread, Submission
from ..front import Front
from ..gateways import Gateway
from ..inputs import (
    CHANNEL,
    DEPARTMENT,
    IDEMPOTENCY_KEY,
    MAX_COMMENT_LENGTH,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_LENGTH,
    METADATA_KEY,
    TEXT_SCHEMA_PATTERN,
    THREAD_ID,
    TIER,
    USER_ID,
    VALUE_SCHEMA_PATTERN,
    schema_pattern,
)
from .auth import Auth

# The rules ingest checks (inputs.py), stated in the OpenAPI document; the checks themselves
# run in the use cases, the same for HTTP and Kafka, each refusal with its own code.
USER_ID_RULE: JsonDict = {"pattern": schema_pattern(USER_ID)}
METADATA_RULE: JsonDict = {
    "maxProperties": MAX_METADATA_KEYS,
    "propertyNames": {"pattern": schema_pattern(METADATA_KEY)},
    "additionalProperties": {
        "type": "string",
        "maxLength": MAX_METADATA_VALUE_LENGTH,
        "pattern": VALUE_SCHEMA_PATTERN,
    },
    "properties": {"tier": {"type": "string", "pattern": schema_pattern(TIER)}},
}
ThreadId = Annotated[
    str,
    Path(description="The thread's id.", json_schema_extra={"pattern": schema_pattern(THREAD_ID)}),
]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid gateway key (`unauthenticated`, `invalid_key`)"},
    422: {"description": "Invalid request (`invalid_request`, `invalid_id`, ...)"},
    429: {"description": "Rate limited (`rate_limited`); see `Retry-After`"},
}
UNKNOWN_THREAD: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such thread, or another gateway's (`unknown_thread`)"}
}


class CreateThread(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: str = Field(
        description="The gateway's id for the end user.", json_schema_extra=USER_ID_RULE
    )
    channel: str | None = Field(
        default=None,
        examples=["web"],
        description="One of the key's channels; may be left out when the key has one.",
        json_schema_extra={"pattern": schema_pattern(CHANNEL)},
    )
    department: str | None = Field(
        default=None,
        examples=["billing"],
        json_schema_extra={"pattern": schema_pattern(DEPARTMENT)},
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="Attributes of the conversation. `tier` (e.g. `vip`) is used by routing "
        "rules; only keys allowed to set routing attributes may send it.",
        json_schema_extra=METADATA_RULE,
    )
    user_hash: str | None = Field(
        default=None,
        description="HMAC-SHA256 of `user_id` with the gateway's identity secret, in hex; "
        "required when the gateway requires verified end users.",
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
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(
        description="What the user wrote: not blank, up to `INGEST_MAX_TEXT_LENGTH` "
        "characters, no control characters but line breaks and tabs.",
        json_schema_extra={"pattern": TEXT_SCHEMA_PATTERN},
    )
    user_id: str | None = Field(
        default=None,
        description="The thread's user, if given; another user is refused.",
        json_schema_extra=USER_ID_RULE,
    )
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
    notice: str | None = Field(
        default=None,
        description="On Baton's own notices (provider `baton`): which one, as in "
        "`message.sent` (`handoff`, `checking`, `agent_joined`, `handback`, `resolved`, "
        "`rating`).",
    )
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> "MessageView":
        notice = message.metadata.get("notice") if message.provider == "baton" else None
        return cls(
            message_id=message.message_id,
            role=message.role,
            text=message.text,
            agent_name=message.agent_name,
            provider=message.provider,
            notice=notice if isinstance(notice, str) else None,
            created_at=message.created_at,
        )


class MessageList(BaseModel):
    messages: list[MessageView]


class RateThread(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    score: int = Field(
        description="How the conversation went: 1 (bad) to 5 (very good).",
        examples=[5],
        json_schema_extra={"minimum": 1, "maximum": 5},
    )
    comment: str | None = Field(
        default=None,
        description="The user's words, up to 2000 characters; blank is no comment.",
        json_schema_extra={"maxLength": MAX_COMMENT_LENGTH, "pattern": TEXT_SCHEMA_PATTERN},
    )


class RatingRecorded(BaseModel):
    rating_id: uuid.UUID = Field(description="The id of the `thread.rated` event announcing it.")
    thread_id: str
    score: int
    resolved_by: Handler = Field(
        description="`human`: the rating goes to the agent who last resolved the "
        "conversation; `ai`: no person resolved it, the rating is the AI's."
    )


def threads_router(auth: Auth, front: Front) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["threads"], responses=ERRORS)
    CurrentGateway = Annotated[Gateway, Depends(auth.gateway)]  # noqa: N806 - a type alias

    @router.post(
        "/threads",
        status_code=status.HTTP_201_CREATED,
        responses={403: {"description": "`channel_not_allowed`, `identity_required`, ..."}},
    )
    async def create_thread(gateway: CurrentGateway, body: CreateThread) -> ThreadCreated:
        """Open a conversation thread for an end user; it belongs to the calling gateway."""
        thread = await front.open_thread(
            gateway,
            NewThread(
                user_id=body.user_id,
                channel=body.channel,
                department=body.department,
                metadata=body.metadata,
                user_hash=body.user_hash,
            ),
        )
        return ThreadCreated(thread_id=thread.thread_id)

    @router.get("/threads/{thread_id}", responses=UNKNOWN_THREAD)
    async def get_thread(gateway: CurrentGateway, thread_id: ThreadId) -> ThreadView:
        thread = await front.thread(gateway, thread_id)
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
        responses={
            **UNKNOWN_THREAD,
            403: {"description": "`user_mismatch`"},
            409: {"description": "`idempotency_key_reused`"},
            413: {"description": "`text_too_long`"},
        },
    )
    async def post_message(
        gateway: CurrentGateway,
        thread_id: ThreadId,
        body: PostMessage,
        idempotency_key: Annotated[
            str | None, Header(json_schema_extra={"pattern": schema_pattern(IDEMPOTENCY_KEY)})
        ] = None,
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
        accepted = await front.submit(gateway, submission)
        return MessageAccepted(message_id=accepted.message_id)

    @router.get("/threads/{thread_id}/messages", responses=UNKNOWN_THREAD)
    async def list_messages(
        gateway: CurrentGateway,
        thread_id: ThreadId,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> MessageList:
        """The thread as the user sees it, oldest first: drafts and tool traffic are hidden."""
        messages = await front.messages(gateway, thread_id, limit=limit)
        return MessageList(messages=[MessageView.of(m) for m in messages])

    @router.post(
        "/threads/{thread_id}/rating",
        status_code=status.HTTP_201_CREATED,
        responses={
            **UNKNOWN_THREAD,
            409: {"description": "`already_rated`: this resolution has its rating"},
        },
    )
    async def rate_thread(
        gateway: CurrentGateway, thread_id: ThreadId, body: RateThread
    ) -> RatingRecorded:
        """The user's rating of the conversation (CSAT), given to whoever resolved it last:
        the agent, or the AI when no person did. Once each time the conversation is
        resolved; a second rating is `409 already_rated`."""
        rated = await front.rate(gateway, thread_id, score=body.score, comment=body.comment)
        return RatingRecorded(
            rating_id=rated.event_id,
            thread_id=rated.thread_id,
            score=rated.score,
            resolved_by=rated.resolved_by,
        )

    return router
