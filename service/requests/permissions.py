"""Who may see a request. Whether an actor may *act* on it is the engine's decision, from the definition."""

from __future__ import annotations

import sqlalchemy as sa

from service.core.auth import Actor
from service.core.db import db
from service.requests.models import Request, RequestAssignee, RequestEvent


def can_view_request(actor: Actor, request: Request, department_code: str | None = None) -> bool:
    """Residents see their own; staff see what their department handles now or has handled."""
    if actor.kind == "resident":
        return request.resident_id == actor.id
    if actor.kind == "system":
        return True
    if actor.kind != "staff" or actor.department_id is None:
        return False
    assigned = db.session.execute(
        sa.select(RequestAssignee.request_id).where(RequestAssignee.request_id == request.id,
                                                    RequestAssignee.department_id == actor.department_id)
    ).first()
    if assigned:
        return True
    if department_code is None:
        return False
    handled = db.session.execute(
        sa.select(RequestEvent.id).where(RequestEvent.request_id == request.id,
                                         RequestEvent.actor_department == department_code).limit(1)
    ).first()
    return handled is not None
