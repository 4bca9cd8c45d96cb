"""State changes of requests: submission, actions, migration between process versions.

Each one loads the request (locked against concurrent writers), checks the version the caller read, lets the
engine decide, then writes the new state, exactly one immutable event and one audit record, and flushes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from flask import current_app

from service.accounts.queries import DepartmentDirectory, department_directory
from service.accounts.roles import may
from service.attachments.operations import check_materials
from service.attachments.queries import own_attachments
from service.calendar.queries import load_calendar, time_zone
from service.catalog.forms import validate_submission
from service.catalog.queries import service_terms
from service.core import audit
from service.core.auth import Actor
from service.core.concurrency import check_version
from service.core.db import db, new_id, utcnow
from service.core.direct import DirectStatement, pipelined, when_written
from service.core.errors import Conflict, Forbidden, NotFound, StaleVersion, ValidationFailed
from service.engine import runtime
from service.engine.clock import Clock
from service.engine.definition import ProcessDefinition
from service.engine.errors import ActorNotAllowed, IllegalAction, InvalidActionData
from service.engine.runtime import Command, Context, EngineActor, RequestState
from service.engine.serialize import state_from_dict, state_to_dict
from service.notifications import outbox
from service.processes.models import ProcessVersion
from service.processes.queries import active_version_id, definition_by_id, definition_of
from service.requests.models import (
    Rating,
    Request,
    RequestAssignee,
    RequestEvent,
    RequestNote,
    RequestSupervision,
)
from service.requests.permissions import can_view_request

_REQUESTS: sa.Table = Request.__table__  # type: ignore[assignment]
_EVENTS: sa.Table = RequestEvent.__table__  # type: ignore[assignment]
_ASSIGNEES: sa.Table = RequestAssignee.__table__  # type: ignore[assignment]

# What an action reads of the request it locks, and the values it writes back (besides version and event_count).
_LOCKED_COLUMNS = ("id", "version", "event_count", "state", "process_version_id", "resident_id", "service_id",
                   "status", "current_step", "due_at", "step_due_at", "closed_at")
_SYNCED_COLUMNS = ("state", "status", "current_step", "due_at", "step_due_at", "closed_at", "claimed_by_id",
                   "claim_expires_at", "updated_at")

# An action is on the hot path of every office: its statements run directly on the transaction's connection.
_SELECT_LOCKED = DirectStatement(sa.select(*(_REQUESTS.c[name] for name in _LOCKED_COLUMNS))
                                 .where(_REQUESTS.c.id == sa.bindparam("b_id")).with_for_update())
# An UPDATE rewrites the index entries of every indexed column it sets, even to the value it had (SQLite): these
# are set only when they change.
_INDEXED_SYNCED = frozenset(_SYNCED_COLUMNS) & {column.name for index in _REQUESTS.indexes for column in index.columns}
_UPDATES: dict[tuple[str, ...], DirectStatement] = {}
_INSERT_REQUEST = DirectStatement.insert(_REQUESTS)
_INSERT_EVENT = DirectStatement.insert(_EVENTS)
_INSERT_ASSIGNEE = DirectStatement(_ASSIGNEES.insert().values(
    {name: sa.bindparam(name) for name in ("request_id", "department_id", "role", "due_at")}))
_ONE_ASSIGNEE = (_ASSIGNEES.c.request_id == sa.bindparam("b_id"),
                 _ASSIGNEES.c.department_id == sa.bindparam("b_department"))
_DELETE_ASSIGNEE = DirectStatement(_ASSIGNEES.delete().where(*_ONE_ASSIGNEE))
_UPDATE_ASSIGNEE = DirectStatement(_ASSIGNEES.update().where(*_ONE_ASSIGNEE).values(
    {name: sa.bindparam(name) for name in ("department_id", "role", "due_at")}))


@dataclass
class LockedRequest:
    """The columns of a request an action needs, read from its row locked for the action (or written by the
    submission), kept current as the action writes; what a submission and an action return."""

    id: str
    version: int
    event_count: int
    state: dict[str, Any]
    process_version_id: str
    resident_id: str
    service_id: str
    status: str
    current_step: str
    due_at: datetime
    step_due_at: datetime | None
    closed_at: datetime | None


def _update(columns: tuple[str, ...]) -> DirectStatement:
    """The UPDATE of the request's row that sets ``columns``, conditional on the version it was read at."""
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES[columns] = DirectStatement(
            _REQUESTS.update()
            .where(_REQUESTS.c.id == sa.bindparam("b_id"), _REQUESTS.c.version == sa.bindparam("b_version"))
            .values({name: sa.bindparam(name) for name in columns}))
    return statement


def lock(request_id: str) -> LockedRequest:
    row = _SELECT_LOCKED.first({"b_id": request_id})
    if row is None:
        raise NotFound("No such request.")
    return LockedRequest(*row)


def engine_context(departments: DepartmentDirectory) -> Context:
    hours = float(current_app.config["CLAIM_TIMEOUT_HOURS"])
    return Context(calendar=load_calendar(), tz=time_zone(), known_departments=departments.active_codes,
                   claim_timeout=timedelta(hours=hours) if hours > 0 else None)


def engine_actor(actor: Actor, departments: DepartmentDirectory) -> EngineActor:
    department = departments.code_of.get(actor.department_id) if actor.department_id else None
    return EngineActor(kind=actor.kind, id=actor.id, department=department, roles=actor.roles)


def _synced_values(state: RequestState, ctx: Context, now: datetime) -> dict[str, Any]:
    """What queries need of the engine's state, copied onto the row."""
    return {"state": state_to_dict(state), "status": state.status, "current_step": state.step,
            "due_at": state.clock.due_at(ctx.calendar, ctx.tz, now),
            "step_due_at": state.step_clock.due_at(ctx.calendar, ctx.tz, now) if state.step_clock else None,
            "closed_at": state.clock.stopped_at, "claimed_by_id": state.claimed_by,
            "claim_expires_at": runtime.claim_expires_at(state, ctx), "updated_at": now}


def _expected(definition: ProcessDefinition, state: RequestState,
              departments: DepartmentDirectory) -> list[tuple[str, str]]:
    return [(departments.id_of[a.department], a.role) for a in runtime.expected_actors(definition, state)]


def _directory_for(*expecting: tuple[ProcessDefinition, RequestState]) -> DepartmentDirectory:
    """The department directory, read again if it lacks a department one of these states expects to act:
    the writes look their ids up where nothing can be read any more (:func:`pipelined`)."""
    return department_directory(covering={actor.department for definition, state in expecting
                                          for actor in runtime.expected_actors(definition, state)})


def _insert_assignees(request_id: str, expected: list[tuple[str, str]], due_at: datetime) -> None:
    _INSERT_ASSIGNEE.write_many([{"request_id": request_id, "department_id": department, "role": role,
                                  "due_at": due_at} for department, role in expected])


def _write(request: LockedRequest, state: RequestState, previous: RequestState, event: runtime.Event,
           definition: ProcessDefinition, ctx: Context, departments: DepartmentDirectory, now: datetime,
           previous_definition: ProcessDefinition | None = None, **extra: Any) -> Any:
    """The new state onto the row (conditional on the version it was read at), who must act now, and the event.

    ``previous_definition``: the definition ``previous`` ran on, when it is not ``definition`` (a migration).
    Returns the UPDATE's cursor: run inside :func:`pipelined`, its ``rowcount`` is known once the writes are
    sent, when :func:`_confirm_update` checks it.
    """
    values = _synced_values(state, ctx, now)
    queue_due = values["step_due_at"] or values["due_at"]
    _update_assignees(request, _expected(previous_definition or definition, previous, departments),
                      _expected(definition, state, departments), queue_due)
    columns = tuple(name for name in _SYNCED_COLUMNS
                    if name not in _INDEXED_SYNCED or values[name] != getattr(request, name))
    values.update(extra, version=request.version + 1, event_count=request.event_count + 1)
    updated = _update((*columns, "version", "event_count", *extra)).execute(
        {**values, "b_id": request.id, "b_version": request.version})
    _add_event(request.id, values["event_count"], event)
    for name in _LOCKED_COLUMNS:
        if name in values:
            setattr(request, name, values[name])
    _forget_loaded(request.id)
    return updated


def _update_assignees(request: LockedRequest, before: list[tuple[str, str]], expected: list[tuple[str, str]],
                      due_at: datetime) -> None:
    """The work-queue rows, from who was expected to act to who is now, writing only the rows that change: a
    department no longer expected hands its row on to one newly expected (one UPDATE rather than a DELETE and
    an INSERT); rows left over are deleted or inserted; a row that stays is rewritten if its role or due time
    changed. The rows are exactly ``before`` when this begins: every write of a request keeps them so (the
    property test of persisted actions checks it after every action)."""
    roles_before = dict(before)
    expected_departments = {department for department, _role in expected}
    gone = [department for department in roles_before if department not in expected_departments]
    came = [(department, role) for department, role in expected if department not in roles_before]
    for previous, (department, role) in zip(gone, came, strict=False):
        _UPDATE_ASSIGNEE.write({"b_id": request.id, "b_department": previous, "department_id": department,
                                "role": role, "due_at": due_at})
    for previous in gone[len(came):]:
        _DELETE_ASSIGNEE.write({"b_id": request.id, "b_department": previous})
    _insert_assignees(request.id, came[len(gone):], due_at)
    due_changed = due_at != (request.step_due_at or request.due_at)
    for department, role in expected:
        if department in roles_before and (due_changed or roles_before[department] != role):
            _UPDATE_ASSIGNEE.write({"b_id": request.id, "b_department": department, "department_id": department,
                                    "role": role, "due_at": due_at})


def _confirm_update(updated: Any) -> None:
    if updated.rowcount != 1:
        raise StaleVersion("Somebody else changed this request first; reload it.")


def _forget_loaded(request_id: str) -> None:
    """The session may hold the request loaded before the action: its attributes are stale now."""
    session = db.session()
    if not session.identity_map:  # nothing loaded: the hot path of an action
        return
    loaded = session.identity_map.get(session.identity_key(Request, request_id))
    if loaded is not None:
        session.expire(loaded)


def _add_event(request_id: str, seq: int, event: runtime.Event) -> None:
    _INSERT_EVENT.write({
        "id": new_id(), "request_id": request_id, "seq": seq, "action": event.action, "at": event.at,
        "actor_kind": event.actor_kind, "actor_id": event.actor_id, "actor_department": event.actor_department,
        "from_step": event.from_step, "to_step": event.to_step, "comment": event.comment, "data": dict(event.data),
        "public": event.public,
    })


def event_of(row: RequestEvent) -> runtime.Event:
    return runtime.Event(action=row.action, at=row.at, actor_kind=row.actor_kind, actor_id=row.actor_id,
                         actor_department=row.actor_department, from_step=row.from_step, to_step=row.to_step,
                         comment=row.comment, data=row.data, public=row.public)


class SubmittedService(Protocol):
    """What :func:`submit` reads of a service: its row or its :class:`ServiceTerms`."""

    @property
    def id(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def process_code(self) -> str: ...


def submit(actor: Actor, service: SubmittedService, form: Mapping[str, Any], materials: Mapping[str, Any],
           at: datetime | None = None, version_id: str | None = None) -> LockedRequest:
    """Start the service's process for ``actor``: on ``version_id``, or its process's active version."""
    if actor.kind != "resident":
        raise Forbidden("Only residents submit requests.")
    now = at or utcnow()
    if version_id is None:
        version_id = active_version_id(service.process_code)
    definition = definition_by_id(version_id)
    state, event = runtime.start(definition, actor.id, now)
    departments = _directory_for((definition, state))
    ctx = engine_context(departments)
    values = _synced_values(state, ctx, now)
    request = LockedRequest(id=new_id(), version=1, event_count=1, state=values["state"],
                            process_version_id=version_id, resident_id=actor.id, service_id=service.id,
                            status=state.status, current_step=state.step, due_at=values["due_at"],
                            step_due_at=values["step_due_at"], closed_at=values["closed_at"])
    with pipelined():
        _INSERT_REQUEST.write({**values, "id": request.id, "version": 1, "event_count": 1, "created_at": utcnow(),
                               "service_id": service.id, "process_version_id": version_id,
                               "resident_id": actor.id, "submitted_at": now, "form": dict(form),
                               "materials": dict(materials)})
        expected = _expected(definition, state, departments)
        if expected:
            _insert_assignees(request.id, expected, values["step_due_at"] or values["due_at"])
        _add_event(request.id, 1, event)
        outbox.on_request_event(request, event, state, departments)
        audit.record(actor, "request.submitted", "request", request.id, {"service": service.code})
    return request


def load_for_update(request_id: str) -> Request:
    request = db.session.execute(
        sa.select(Request).where(Request.id == request_id).with_for_update()).scalar_one_or_none()
    if request is None:
        raise NotFound("No such request.")
    return request


def act(actor: Actor, request_id: str, action: str, comment: str | None, data: Mapping[str, Any],
        expected_version: int | None, at: datetime | None = None) -> LockedRequest:
    """Apply one action to a request (409 stale version or illegal action, 403 not yours to act on)."""
    now = at or utcnow()
    request = lock(request_id)
    departments = department_directory()
    if actor.kind == "resident" and not can_view_request(actor, request):
        raise NotFound("No such request.")
    check_version(request.version, expected_version)
    definition = definition_by_id(request.process_version_id)
    ctx = engine_context(departments)
    state = state_from_dict(request.state)
    try:
        new_state, event = runtime.apply(definition, state, Command(action, comment, dict(data)),
                                         engine_actor(actor, departments), now, ctx)
    except IllegalAction as illegal:
        raise Conflict(str(illegal), allowed_actions=illegal.allowed) from illegal
    except ActorNotAllowed as refused:
        if actor.kind == "staff" and not can_view_request(actor, request):
            raise Forbidden("This request is not with your department.") from refused
        raise Forbidden(str(refused)) from refused
    except InvalidActionData as invalid:
        raise ValidationFailed(str(invalid), errors=invalid.errors) from invalid
    departments = _directory_for((definition, state), (definition, new_state))
    with pipelined():
        updated = _write(request, new_state, state, event, definition, ctx, departments, now)
        audit.record(actor, f"request.{action}", "request", request.id,
                     {"from_step": event.from_step, "to_step": event.to_step})
        outbox.on_request_event(request, event, new_state, departments)
    # the row is locked and its version was checked above: the UPDATE's own condition is a last defence
    when_written(lambda: _confirm_update(updated))
    return request


def record_migration(actor: Actor, request: Request, source: ProcessVersion, target: ProcessVersion) -> None:
    """Move a running request onto another version of its process, recorded as a ``migrate`` event."""
    definition = definition_of(target)
    locked = lock(request.id)
    state = state_from_dict(locked.state)
    now = utcnow()
    event = runtime.Event(action="migrate", at=now, actor_kind=actor.kind, actor_id=actor.id,
                          actor_department=None, from_step=state.step, to_step=state.step,
                          data={"from_version": source.version, "to_version": target.version}, public=False)
    migrated, previous_definition = runtime.evolve(definition, state, event), definition_of(source)
    departments = _directory_for((previous_definition, state), (definition, migrated))
    _confirm_update(_write(locked, migrated, state, event, definition, engine_context(departments), departments, now,
                           previous_definition=previous_definition, process_version_id=target.id))
    audit.record(actor, "request.migrated", "request", request.id,
                 {"from_version": source.version, "to_version": target.version})


def view_state(request: Request) -> RequestState:
    return state_from_dict(request.state)


def allowed_for(actor: Actor, request: Request, at: datetime | None = None) -> list[str]:
    """The actions ``actor`` may take on the request at ``at`` (now by default)."""
    departments = department_directory()
    return runtime.allowed_actions(definition_by_id(request.process_version_id), state_from_dict(request.state),
                                   engine_actor(actor, departments), engine_context(departments), at or utcnow())

def submit_request(actor: Actor, service_id: str, form: Mapping[str, Any], materials: Mapping[str, list[str]],
                   at: datetime | None = None) -> LockedRequest:
    """Validate a resident's submission against the service's form and materials, then start its process."""
    service = service_terms(service_id)
    if service is None or not service.active:
        raise ValidationFailed("Unknown service.", errors={"service_id": ["No such service."]})
    cleaned, errors = validate_submission(service.form, form)
    errors.update(check_materials(actor, service.materials, materials))
    if errors:
        raise ValidationFailed("The form or the materials are incomplete or invalid.", errors=errors)
    if service.process_version_id is None:
        raise NotFound(f"Process {service.process_code!r} has no active version.")
    return submit(actor, service, cleaned, {key: list(ids) for key, ids in materials.items()}, at,
                  service.process_version_id)


def supplement(actor: Actor, request_id: str, materials: Mapping[str, list[str]], answers: Mapping[str, Any],
               comment: str | None, expected_version: int | None) -> LockedRequest:
    """The resident provides what staff asked for; the process decides whether the clock resumes or restarts."""
    wanted = {i for ids in materials.values() for i in ids}
    if len(own_attachments(actor, wanted)) != len(wanted):
        raise ValidationFailed("Unknown attachment.", errors={"materials": ["Unknown attachment."]})
    data = {k: v for k, v in (("materials", dict(materials)), ("answers", dict(answers))) if v}
    return act(actor, request_id, "supplement", comment, data, expected_version)


def rate(actor: Actor, request_id: str, level: int, comment: str | None, tags: list[str]) -> Rating:
    """Rate a completed request once; a rating of 1 or 2 opens a follow-up for the department that handled it."""
    request = load_for_update(request_id)
    if actor.kind != "resident" or request.resident_id != actor.id:
        raise NotFound("No such request.")
    if request.status != "completed":
        raise Conflict("Only a completed request can be rated.")
    if db.session.execute(sa.select(Rating.id).where(Rating.request_id == request.id)).first():
        raise Conflict("This request was rated already.")
    rating = Rating(request_id=request.id, resident_id=actor.id, service_id=request.service_id, level=level,
                    comment=comment, tags=sorted(set(tags)))
    if level <= 2:
        departments = department_directory()
        last_department = db.session.execute(
            sa.select(RequestEvent.actor_department).where(RequestEvent.request_id == request.id,
                                                           RequestEvent.actor_kind == "staff")
            .order_by(RequestEvent.seq.desc()).limit(1)
        ).scalar()
        ctx = engine_context(departments)
        now = utcnow()
        rating.follow_up_status = "open"
        rating.follow_up_department_id = departments.id_of.get(last_department or "")
        days = int(current_app.config["FOLLOW_UP_WORKING_DAYS"])
        rating.follow_up_due_at = Clock.start(now, days).due_at(ctx.calendar, ctx.tz, now)
    db.session.add(rating)
    db.session.flush()
    outbox.on_rated(rating)
    audit.record(actor, "request.rated", "request", request.id,
                 {"level": level, "follow_up": rating.follow_up_status})
    db.session.flush()
    return rating


def add_note(actor: Actor, request_id: str, body: str) -> RequestNote:
    """An internal note (never shown to the resident), by staff of a department the request is or was with."""
    request = db.session.get(Request, request_id)
    if request is None or actor.kind != "staff" or not can_view_request(actor, request):
        raise NotFound("No such request.")
    note = RequestNote(id=new_id(), request_id=request.id, author_id=actor.id, department_id=actor.department_id,
                       body=body)
    db.session.add(note)
    db.session.flush()
    # the note's text stays out of the audit log, which is read more widely than the request
    audit.record(actor, "request.note_added", "request", request.id, {"note_id": note.id})
    return note


def answer_follow_up(actor: Actor, rating_id: str, answer: str, expected_version: int | None) -> Rating:
    """The responsible department answers a bad rating (差评整改); the resident sees the answer."""
    rating = db.session.execute(sa.select(Rating).where(Rating.id == rating_id).with_for_update()).scalar_one_or_none()
    if rating is None or actor.kind != "staff" or rating.follow_up_status == "none":
        raise NotFound("No such follow-up.")
    if rating.follow_up_department_id != actor.department_id or not may(actor, "requests.handle"):
        raise Forbidden("The follow-up is for another department.")
    check_version(rating.version, expected_version)
    if rating.follow_up_status != "open":
        raise Conflict("The follow-up was answered already.")
    rating.follow_up_status = "answered"
    rating.follow_up_answer = answer
    rating.follow_up_answered_at = utcnow()
    rating.follow_up_answered_by = actor.id
    db.session.flush()
    audit.record(actor, "rating.follow_up_answered", "rating", rating.id, {"request_id": rating.request_id})
    outbox.on_follow_up_answered(rating)
    return rating


def supervise(actor: Actor, request_id: str, comment: str, remind_at: datetime | None) -> RequestSupervision:
    """A supervisor flags a request they oversee (督办), optionally with a time to be reminded of it."""
    request = db.session.get(Request, request_id)
    if request is None:
        raise NotFound("No such request.")
    if not may(actor, "requests.supervise") or not can_view_request(actor, request):
        raise Forbidden("Only a supervisor overseeing the request flags it.")
    if remind_at is not None and remind_at <= utcnow():
        raise ValidationFailed("The reminder must be in the future.", errors={"remind_at": ["Must be in the future."]})
    supervision = RequestSupervision(id=new_id(), request_id=request.id, supervisor_id=actor.id, comment=comment,
                                     remind_at=remind_at)
    db.session.add(supervision)
    db.session.flush()
    outbox.on_supervised(supervision)
    audit.record(actor, "request.supervised", "request", request.id,
                 {"supervision_id": supervision.id, "remind_at": remind_at.isoformat() if remind_at else None})
    return supervision


def resolve_supervision(actor: Actor, request_id: str, supervision_id: str) -> RequestSupervision:
    supervision = db.session.get(RequestSupervision, supervision_id)
    request = db.session.get(Request, request_id)
    if supervision is None or request is None or supervision.request_id != request.id:
        raise NotFound("No such supervision.")
    if not may(actor, "requests.supervise") or not can_view_request(actor, request):
        raise Forbidden("Only a supervisor overseeing the request resolves it.")
    if supervision.resolved_at is not None:
        raise Conflict("The supervision was resolved already.")
    supervision.resolved_at = utcnow()
    supervision.resolved_by = actor.id
    db.session.flush()
    audit.record(actor, "request.supervision_resolved", "request", request.id, {"supervision_id": supervision.id})
    return supervision


def close_follow_up(actor: Actor, rating_id: str, expected_version: int | None) -> Rating:
    """A supervisor of the responsible department closes an answered follow-up."""
    rating = db.session.execute(sa.select(Rating).where(Rating.id == rating_id).with_for_update()).scalar_one_or_none()
    if rating is None or actor.kind != "staff" or rating.follow_up_status == "none":
        raise NotFound("No such follow-up.")
    if rating.follow_up_department_id != actor.department_id or not may(actor, "requests.supervise"):
        raise Forbidden("A supervisor of the responsible department closes the follow-up.")
    check_version(rating.version, expected_version)
    if rating.follow_up_status != "answered":
        raise Conflict("Only an answered follow-up can be closed.")
    rating.follow_up_status = "closed"
    rating.updated_at = utcnow()
    db.session.flush()
    audit.record(actor, "rating.follow_up_closed", "rating", rating.id, {"request_id": rating.request_id})
    return rating
