"""Who may see a request. Whether an actor may *act* on it is the engine's decision, from the definition."""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa

from service.accounts.queries import department_directory
from service.accounts.roles import may
from service.core.auth import Actor
from service.core.db import db
from service.requests.models import RequestAssignee, RequestEvent


def visible_department_ids(actor: Actor) -> set[str]:
    """A handler sees their department's requests; a supervisor also those of the departments below theirs."""
    if actor.kind != "staff" or actor.department_id is None:
        return set()
    if may(actor, "requests.oversee_subtree"):
        return department_directory().subtree(actor.department_id)
    return {actor.department_id}


class RequestRef(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def resident_id(self) -> str: ...


def can_view_request(actor: Actor, request: RequestRef) -> bool:
    """Residents see their own; staff what their departments have now or have handled."""
    if actor.kind == "resident":
        return request.resident_id == actor.id
    if actor.kind == "system":
        return True
    departments = visible_department_ids(actor)
    if not departments:
        return False
    assigned = db.session.execute(
        sa.select(RequestAssignee.request_id).where(RequestAssignee.request_id == request.id,
                                                    RequestAssignee.department_id.in_(departments))
    ).first()
    if assigned:
        return True
    directory = department_directory()
    codes = [directory.code_of[d] for d in departments if d in directory.code_of]
    handled = db.session.execute(
        sa.select(RequestEvent.id).where(RequestEvent.request_id == request.id,
                                         RequestEvent.actor_department.in_(codes)).limit(1)
    ).first()
    return handled is not None
