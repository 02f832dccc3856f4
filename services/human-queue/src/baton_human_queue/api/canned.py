"""Canned replies: agents list them and get them filled in for a ticket; admins manage them.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from baton_contracts import MAX_TEXT_LENGTH

from ..agents import DEPARTMENT_PATTERN
from ..canned import MAX_TITLE_LENGTH, SHORTCUT_PATTERN
from ..domain import FIT_NAME_PATTERN, Agent
from ..usecases.canned import UNSET, CannedResponses
from .auth import Auth
from .team_views import CannedList, CannedView, RenderedCannedList, RenderedCannedView
from .tickets import FIT_TEXT, TicketId

CannedId = Annotated[
    str,
    Path(
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$",
        description="The canned response's id.",
    ),
]
DepartmentFilter = Annotated[
    str | None, Query(max_length=100, pattern=FIT_NAME_PATTERN, description="One department's.")
]
Department = Annotated[str, Field(max_length=100, pattern=DEPARTMENT_PATTERN.pattern)]
Shortcut = Annotated[
    str,
    Field(
        max_length=40,
        pattern=SHORTCUT_PATTERN,
        description="What agents type to find it, unique within its department.",
        examples=["greeting"],
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_LENGTH, pattern=FIT_NAME_PATTERN)]
Template = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The reply, with placeholders {user_name}, {agent_name}, "
        "{metadata.KEY}; {{ and }} for literal braces.",
        examples=["Hi {user_name}, {agent_name} here. About order {metadata.order_id}:"],
        json_schema_extra=FIT_TEXT,
    ),
]

AGENT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    403: {"description": "A department the agent does not serve"},
    404: {"description": "Unknown ticket"},
    422: {"description": "Invalid parameters"},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    404: {"description": "Unknown canned response"},
    409: {"description": "The department has a reply with this shortcut already"},
    422: {"description": "Invalid body: an unknown placeholder, an unmatched brace, ..."},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateCanned(_Body):
    department: Department | None = Field(
        description="The department whose agents use it; null for every department."
    )
    shortcut: Shortcut
    title: Title
    text: Template


class UpdateCanned(_Body):
    """The fields to change; the others stay."""

    department: Department | None = Field(
        default=None, description="A new department; null: for every department."
    )
    shortcut: Shortcut | SkipJsonSchema[None] = None
    title: Title | SkipJsonSchema[None] = None
    text: Template | SkipJsonSchema[None] = None

    @field_validator("shortcut", "title", "text")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Left out, a field stays; given, it must be a text (only a department may be null).
        if value is None:
            raise ValueError("must be a string; leave the field out to keep it")
        return value


def canned_router(auth: Auth, *, canned: CannedResponses) -> APIRouter:
    router = APIRouter(tags=["canned responses"])
    SignedIn = Annotated[Agent, Depends(auth.agent)]  # noqa: N806 - a type alias

    @router.get("/v1/canned-responses", responses=AGENT_ERRORS)
    async def list_canned_responses(
        agent: SignedIn, department: DepartmentFilter = None
    ) -> CannedList:
        """The canned replies you may use: your departments' and the shared ones (or one
        department's, with the shared ones), as templates."""
        found = await canned.usable(agent, department)
        return CannedList(canned_responses=[CannedView.of(c) for c in found])

    @router.get("/v1/tickets/{ticket_id}/canned-responses", responses=AGENT_ERRORS)
    async def render_canned_responses(agent: SignedIn, ticket_id: TicketId) -> RenderedCannedList:
        """The canned replies for this ticket (its department's and the shared ones), filled
        in for its thread and for you; a field the thread lacks is left empty and named in
        `missing`. Send one with `POST /v1/tickets/{ticket_id}/reply`."""
        found = await canned.for_ticket(agent, ticket_id)
        return RenderedCannedList(
            ticket_id=ticket_id, canned_responses=[RenderedCannedView.of(r) for r in found]
        )

    admin = APIRouter(
        prefix="/v1/admin/canned-responses",
        tags=["admin"],
        dependencies=[Depends(auth.admin)],
        responses=ADMIN_ERRORS,
    )

    @admin.post("", status_code=status.HTTP_201_CREATED)
    async def create_canned_response(body: CreateCanned) -> CannedView:
        """Create a canned reply; an unknown placeholder is refused (`unknown_placeholder`)."""
        created = await canned.create(
            department=body.department, shortcut=body.shortcut, title=body.title, text=body.text
        )
        return CannedView.of(created)

    @admin.get("")
    async def list_all_canned_responses(department: DepartmentFilter = None) -> CannedList:
        """Every canned reply, or one department's (without the shared ones)."""
        found = await canned.all(department)
        return CannedList(canned_responses=[CannedView.of(c) for c in found])

    @admin.get("/{canned_id}")
    async def get_canned_response(canned_id: CannedId) -> CannedView:
        return CannedView.of(await canned.get(canned_id))

    @admin.patch("/{canned_id}")
    async def update_canned_response(canned_id: CannedId, body: UpdateCanned) -> CannedView:
        """Change the fields given; `"department": null` makes it a reply for everyone."""
        given = body.model_fields_set
        updated = await canned.update(
            canned_id,
            department=body.department if "department" in given else UNSET,
            shortcut=body.shortcut if body.shortcut is not None else UNSET,
            title=body.title if body.title is not None else UNSET,
            text=body.text if body.text is not None else UNSET,
        )
        return CannedView.of(updated)

    @admin.delete("/{canned_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_canned_response(canned_id: CannedId) -> Response:
        await canned.delete(canned_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    router.include_router(admin)
    return router
