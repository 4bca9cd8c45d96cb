"""State changes of requests: submission, actions, migration between process versions.

Each one loads the request (locked against concurrent writers), checks the version the caller read, lets the
engine decide, then writes the new state, exactly one immutable event and one audit record, and flushes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.accounts.models import Department
from service.calendar.queries import load_calendar, time_zone
from service.catalog.models import Service
from service.core import audit
from service.core.auth import Actor
from service.core.concurrency import check_version
from service.core.db import db, new_id, utcnow
from service.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service.engine import runtime
from service.engine.definition import ProcessDefinition
from service.engine.errors import ActorNotAllowed, IllegalAction, InvalidActionData
from service.engine.runtime import Command, Context, EngineActor, RequestState
from service.engine.serialize import state_from_dict, state_to_dict
from service.processes.models import ProcessVersion
from service.processes.queries import active_version, definition_of
from service.requests.models import Request, RequestAssignee, RequestEvent
from service.requests.permissions import can_view_request


class Departments:
    """Department codes (the engine's and the definitions' names) and ids (the database's), both ways."""

    def __init__(self) -> None:
        rows = db.session.execute(sa.select(Department.id, Department.code, Department.active)).all()
        self.code_of = {row.id: row.code for row in rows}
        self.id_of = {row.code: row.id for row in rows}
        self.active_codes = frozenset(row.code for row in rows if row.active)


def engine_context(departments: Departments) -> Context:
    return Context(calendar=load_calendar(), tz=time_zone(), known_departments=departments.active_codes)


def engine_actor(actor: Actor, departments: Departments) -> EngineActor:
    department = departments.code_of.get(actor.department_id) if actor.department_id else None
    return EngineActor(kind=actor.kind, id=actor.id, department=department, roles=actor.roles)


def _sync(request: Request, state: RequestState, definition: ProcessDefinition, ctx: Context,
          departments: Departments, now: datetime) -> None:
    """Copy what queries need out of the engine's state onto the row, and list who must act now.

    Call :func:`_clear_assignees` first for an existing request: its DELETE would autoflush the row, which
    must be updated once per action.
    """
    request.state = state_to_dict(state)
    request.status = state.status
    request.current_step = state.step
    request.due_at = state.clock.due_at(ctx.calendar, ctx.tz, now)
    request.step_due_at = state.step_clock.due_at(ctx.calendar, ctx.tz, now) if state.step_clock else None
    request.closed_at = state.clock.stopped_at
    request.claimed_by_id = state.claimed_by
    request.updated_at = now
    queue_due = request.step_due_at or request.due_at
    for assignment in runtime.expected_actors(definition, state):
        db.session.add(RequestAssignee(request_id=request.id, department_id=departments.id_of[assignment.department],
                                       role=assignment.role, due_at=queue_due))


def _clear_assignees(request: Request) -> None:
    db.session.execute(sa.delete(RequestAssignee).where(RequestAssignee.request_id == request.id))


def _add_event(request: Request, event: runtime.Event) -> RequestEvent:
    """Append the event; ``request.event_count`` must already count it (so the row is updated only once)."""
    row = RequestEvent(
        request_id=request.id, seq=request.event_count, action=event.action, at=event.at,
        actor_kind=event.actor_kind, actor_id=event.actor_id, actor_department=event.actor_department,
        from_step=event.from_step, to_step=event.to_step, comment=event.comment, data=dict(event.data),
        public=event.public,
    )
    db.session.add(row)
    return row


def event_of(row: RequestEvent) -> runtime.Event:
    return runtime.Event(action=row.action, at=row.at, actor_kind=row.actor_kind, actor_id=row.actor_id,
                         actor_department=row.actor_department, from_step=row.from_step, to_step=row.to_step,
                         comment=row.comment, data=row.data, public=row.public)


def submit(actor: Actor, service: Service, form: Mapping[str, Any], materials: Mapping[str, Any],
           at: datetime | None = None) -> Request:
    if actor.kind != "resident":
        raise Forbidden("Only residents submit requests.")
    now = at or utcnow()
    version = active_version(service.process_code)
    definition = definition_of(version)
    departments = Departments()
    ctx = engine_context(departments)
    state, event = runtime.start(definition, actor.id, now)
    request = Request(id=new_id(), service_id=service.id, process_version_id=version.id, resident_id=actor.id,
                      submitted_at=now, form=dict(form), materials=dict(materials), event_count=1)
    db.session.add(request)
    _sync(request, state, definition, ctx, departments, now)
    _add_event(request, event)
    audit.record(actor, "request.submitted", "request", request.id, {"service": service.code})
    db.session.flush()
    return request


def load_for_update(request_id: str) -> Request:
    request = db.session.execute(
        sa.select(Request).where(Request.id == request_id).with_for_update()
    ).scalar_one_or_none()
    if request is None:
        raise NotFound("No such request.")
    return request


def act(actor: Actor, request_id: str, action: str, comment: str | None, data: Mapping[str, Any],
        expected_version: int | None, at: datetime | None = None) -> Request:
    """Apply one action to a request (409 stale version or illegal action, 403 not yours to act on)."""
    now = at or utcnow()
    request = load_for_update(request_id)
    departments = Departments()
    department_code = departments.code_of.get(actor.department_id) if actor.department_id else None
    if actor.kind == "resident" and not can_view_request(actor, request):
        raise NotFound("No such request.")
    check_version(request.version, expected_version)
    version = db.session.get(ProcessVersion, request.process_version_id)
    assert version is not None
    definition = definition_of(version)
    ctx = engine_context(departments)
    state = state_from_dict(request.state)
    try:
        new_state, event = runtime.apply(definition, state, Command(action, comment, dict(data)),
                                         engine_actor(actor, departments), now, ctx)
    except IllegalAction as illegal:
        raise Conflict(str(illegal), allowed_actions=illegal.allowed) from illegal
    except ActorNotAllowed as refused:
        if actor.kind == "staff" and not can_view_request(actor, request, department_code):
            raise Forbidden("This request is not with your department.") from refused
        raise Forbidden(str(refused)) from refused
    except InvalidActionData as invalid:
        raise ValidationFailed(str(invalid), errors=invalid.errors) from invalid
    _clear_assignees(request)
    _sync(request, new_state, definition, ctx, departments, now)
    request.event_count += 1
    _add_event(request, event)

    audit.record(actor, f"request.{action}", "request", request.id,
                 {"from_step": event.from_step, "to_step": event.to_step})
    db.session.flush()
    return request


def record_migration(actor: Actor, request: Request, source: ProcessVersion, target: ProcessVersion) -> None:
    """Move a running request onto another version of its process, recorded as a ``migrate`` event."""
    departments = Departments()
    definition = definition_of(target)
    state = state_from_dict(request.state)
    now = utcnow()
    event = runtime.Event(action="migrate", at=now, actor_kind=actor.kind, actor_id=actor.id,
                          actor_department=None, from_step=state.step, to_step=state.step,
                          data={"from_version": source.version, "to_version": target.version}, public=False)
    _clear_assignees(request)
    request.process_version_id = target.id
    _sync(request, runtime.evolve(definition, state, event), definition, engine_context(departments), departments,
          now)
    request.event_count += 1
    _add_event(request, event)
    audit.record(actor, "request.migrated", "request", request.id,
                 {"from_version": source.version, "to_version": target.version})


def view_state(request: Request) -> RequestState:
    return state_from_dict(request.state)


def allowed_for(actor: Actor, request: Request) -> list[str]:
    departments = Departments()
    version = db.session.get(ProcessVersion, request.process_version_id)
    assert version is not None
    return runtime.allowed_actions(definition_of(version), state_from_dict(request.state),
                                   engine_actor(actor, departments), engine_context(departments), utcnow())

