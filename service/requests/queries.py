"""Reads of requests: the staff view with the actions allowed now, the clock and the history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from service.core.auth import Actor
from service.core.db import db, utcnow
from service.core.errors import NotFound
from service.engine.timing import StepVisit, step_visits
from service.processes.models import ProcessVersion
from service.processes.queries import definition_of
from service.requests import operations
from service.requests.models import Request, RequestAssignee, RequestEvent
from service.requests.permissions import can_view_request


def get_request(request_id: str) -> Request:
    request = db.session.get(Request, request_id)
    if request is None:
        raise NotFound("No such request.")
    return request


def clock_view(request: Request) -> dict[str, Any]:
    departments = operations.Departments()
    ctx = operations.engine_context(departments)
    clock = operations.view_state(request).clock
    now = utcnow()
    open_suspension = next((s for s in clock.suspensions if s.ended_at is None), None)
    return {
        "budget_days": clock.budget_days,
        "total_budget_days": clock.total_budget_days,
        "paused": clock.suspended,
        "paused_reason": open_suspension.reason if open_suspension else None,
        "overdue": clock.is_overdue(ctx.calendar, ctx.tz, now),
        "working_days_overdue": clock.working_days_overdue(ctx.calendar, ctx.tz, now),
        "suspensions": list(clock.suspensions),
        "extensions": list(clock.extensions),
        "restarts": list(clock.restarts),
        "due_at": clock.due_at(ctx.calendar, ctx.tz, now),
    }


@dataclass
class StaffRequestView:
    request: Request
    allowed_actions: list[str]
    assignees: list[RequestAssignee]
    events: list[RequestEvent]
    clock: dict[str, Any]
    process_code: str
    process_version: int
    current_step_name: str
    steps: list[StepVisit]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.request, name)

    @property
    def due_at(self) -> Any:
        return self.clock["due_at"]

    @property
    def claimed_by(self) -> str | None:
        return self.request.claimed_by_id

    @property
    def supervised(self) -> bool:
        return bool(self.request.state.get("supervised"))

    @property
    def countersign(self) -> dict[str, Any] | None:
        countersign = operations.view_state(self.request).countersign
        if countersign is None:
            return None
        return {"required": list(countersign.required), "signatures": [list(s) for s in countersign.signatures],
                "pending": list(countersign.pending)}


def staff_view(actor: Actor, request_id: str) -> StaffRequestView:
    request = get_request(request_id)
    departments = operations.Departments()
    code = departments.code_of.get(actor.department_id) if actor.department_id else None
    if not can_view_request(actor, request, code):
        raise NotFound("No such request.")
    version = db.session.get(ProcessVersion, request.process_version_id)
    assert version is not None
    definition = definition_of(version)
    events = list(db.session.execute(
        sa.select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.seq)
    ).scalars())
    ctx = operations.engine_context(departments)
    return StaffRequestView(
        request=request,
        allowed_actions=operations.allowed_for(actor, request),
        assignees=list(db.session.execute(
            sa.select(RequestAssignee).where(RequestAssignee.request_id == request.id)).scalars()),
        events=events,
        clock=clock_view(request),
        process_code=version.code,
        process_version=version.version,
        current_step_name=definition.step(request.current_step).name,
        steps=step_visits(definition, [operations.event_of(e) for e in events], ctx.calendar, ctx.tz, utcnow()),
    )
