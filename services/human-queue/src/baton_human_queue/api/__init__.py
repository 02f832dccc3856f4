"""The human-queue HTTP API for agents, their consoles, and admins: one router per area."""

from fastapi import APIRouter
from pydantic import SecretStr

from ..agents import Agents
from ..usecases import ActionRecords, Claims, HolderActions, Reading, Reports
from ..usecases.assignment import Assigner
from ..usecases.canned import CannedResponses
from ..usecases.moving import MovingWork
from ..usecases.notes import Notes
from ..usecases.staff import Staff
from .admin import admin_router
from .auth import Auth
from .canned import canned_router
from .moving import moving_router
from .notes import notes_router
from .staff import staff_router
from .threads import threads_router
from .tickets import tickets_router

__all__ = ["api_router"]


def api_router(
    *,
    agents: Agents,
    admin_token: SecretStr,
    reading: Reading,
    claims: Claims,
    holder: HolderActions,
    reports: Reports,
    staff: Staff | None = None,
    assigner: Assigner | None = None,
    notes: Notes | None = None,
    canned: CannedResponses | None = None,
    moving: MovingWork | None = None,
    actions: ActionRecords | None = None,
) -> APIRouter:
    # Notes and canned replies are optional, so a test of another area can leave them out.
    auth = Auth(agents, admin_token, seen=staff.seen if staff else None)
    router = APIRouter()
    router.include_router(
        tickets_router(
            auth, reading=reading, claims=claims, holder=holder, notes=notes, actions=actions
        )
    )
    router.include_router(threads_router(auth, reading=reading, notes=notes))
    if notes is not None:
        router.include_router(notes_router(auth, notes=notes))
    if canned is not None:
        router.include_router(canned_router(auth, canned=canned))
    if moving is not None:
        # Transfer, assignment and takeover (left out like notes).
        router.include_router(moving_router(auth, moving=moving))
    router.include_router(admin_router(auth, agents=agents, reports=reports, actions=actions))
    if staff is not None and assigner is not None:
        # Presence, agent administration and assignment policies (left out like notes).
        router.include_router(staff_router(auth, agents=agents, staff=staff, assigner=assigner))
    return router
