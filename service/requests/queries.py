"""Reads of requests: the staff view with the actions allowed now, the clock and the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from service.accounts.queries import department_directory
from service.attachments.models import Attachment
from service.catalog.models import Service
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.core.errors import NotFound
from service.core.pagination import Page, paginate
from service.core.privacy import mask_name, mask_phone
from service.engine.timing import StepVisit, step_visits
from service.processes.models import ProcessVersion
from service.processes.queries import definition_of
from service.requests import operations
from service.requests.models import (
    Rating,
    Request,
    RequestAssignee,
    RequestEvent,
    RequestNote,
    RequestSupervision,
)
from service.requests.permissions import can_view_request, visible_department_ids


def get_request(request_id: str) -> Request:
    request = db.session.get(Request, request_id)
    if request is None:
        raise NotFound("No such request.")
    return request


def clock_view(request: Request) -> dict[str, Any]:
    departments = department_directory()
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
    notes: list[RequestNote]
    supervisions: list[RequestSupervision]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.request, name)

    @property
    def due_at(self) -> Any:
        return self.clock["due_at"]

    @property
    def claimed_by(self) -> str | None:
        return claim_holder(self.request, utcnow())

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
    departments = department_directory()
    if not can_view_request(actor, request):
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
        notes=notes_of(request.id),
        supervisions=open_supervisions(request.id),
    )


@dataclass
class ResidentRequestView:
    """A request as its resident sees it: in their words, with only the public part of its history."""

    request: Request
    service_name: str
    current_step_name: str
    allowed_actions: list[str]
    asked: list[str]
    timeline: list[RequestEvent]
    clock: dict[str, Any]
    rating: Rating | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.request, name)

    @property
    def due_at(self) -> Any:
        return self.clock["due_at"]

    @property
    def paused(self) -> bool:
        return bool(self.clock["paused"])

    @property
    def paused_reason(self) -> str | None:
        reason: str | None = self.clock["paused_reason"]
        return reason


def _owned(actor: Actor, request_id: str) -> Request:
    request = db.session.get(Request, request_id)
    if request is None or actor.kind != "resident" or request.resident_id != actor.id:
        raise NotFound("No such request.")
    return request


def resident_view(actor: Actor, request_id: str) -> ResidentRequestView:
    request = _owned(actor, request_id)
    version = db.session.get(ProcessVersion, request.process_version_id)
    service = db.session.get(Service, request.service_id)
    assert version is not None
    assert service is not None
    state = operations.view_state(request)
    return ResidentRequestView(
        request=request,
        service_name=service.name,
        current_step_name=definition_of(version).step(request.current_step).public_name,
        allowed_actions=operations.allowed_for(actor, request),
        asked=list(state.asked or ()),
        timeline=list(db.session.execute(
            sa.select(RequestEvent).where(RequestEvent.request_id == request.id, RequestEvent.public)
            .order_by(RequestEvent.seq)).scalars()),
        clock=clock_view(request),
        rating=db.session.execute(sa.select(Rating).where(Rating.request_id == request.id)).scalar_one_or_none(),
    )


def resident_requests_page(actor: Actor, status: str | None, cursor: str | None, limit: int | None
                           ) -> Page[Request]:
    stmt = sa.select(Request).where(Request.resident_id == actor.id)
    if status is not None:
        stmt = stmt.where(Request.status == status)
    return paginate(stmt, [Request.id], cursor=cursor, limit=limit, descending=True)


def notes_of(request_id: str) -> list[RequestNote]:
    return list(db.session.execute(
        sa.select(RequestNote).where(RequestNote.request_id == request_id).order_by(RequestNote.created_at)
    ).scalars())


@dataclass(frozen=True)
class TaskFilters:
    service_id: str | None = None
    step: str | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    claimed_by_me: bool | None = None
    supervised: bool | None = None


@dataclass(frozen=True)
class Task:
    """One request in a work queue, with the deadline the queue sorts by (the step's, else the request's)."""

    request: Request
    due_at: datetime
    role: str
    overdue: bool
    claimed_by: str | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.request, name)

    @property
    def request_due_at(self) -> datetime:
        return self.request.due_at


@dataclass(frozen=True)
class TaskPage:
    items: list[Task]
    next_cursor: str | None
    counts: dict[str, int]


def _queue(actor: Actor) -> sa.Select[Any]:
    """Requests whose current step the actor's department is expected to act on, in a role the actor holds
    (supervisors see every role of their department)."""
    stmt = cast("sa.Select[Any]", sa.select(Request, RequestAssignee.due_at.label("queue_due"), RequestAssignee.role)
                .join(RequestAssignee, RequestAssignee.request_id == Request.id)
                .where(RequestAssignee.department_id == actor.department_id))
    if "supervisor" not in actor.roles:
        stmt = stmt.where(RequestAssignee.role.in_(sorted(actor.roles)))
    return stmt


def _claim_holds(claimed_by: Any, expires_at: Any, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(claimed_by.is_not(None), sa.or_(expires_at.is_(None), expires_at > now))


def claim_holder(request: Request, now: datetime) -> str | None:
    """Who holds the request's claim now (a lapsed claim holds for nobody)."""
    if request.claimed_by_id is None or (request.claim_expires_at is not None and request.claim_expires_at <= now):
        return None
    return request.claimed_by_id


def tasks_page(actor: Actor, filters: TaskFilters, cursor: str | None, limit: int | None) -> TaskPage:
    now = utcnow()
    stmt = _queue(actor)
    if filters.service_id:
        stmt = stmt.where(Request.service_id == filters.service_id)
    if filters.step:
        stmt = stmt.where(Request.current_step == filters.step)
    if filters.overdue is not None:
        stmt = stmt.where(RequestAssignee.due_at < now if filters.overdue else RequestAssignee.due_at >= now)
    if filters.due_before:
        stmt = stmt.where(RequestAssignee.due_at <= filters.due_before)
    if filters.claimed_by_me is not None:
        mine = sa.and_(_claim_holds(Request.claimed_by_id, Request.claim_expires_at, now),
                       Request.claimed_by_id == actor.id)
        stmt = stmt.where(mine if filters.claimed_by_me else ~mine)
    if filters.supervised is not None:
        flagged = sa.exists().where(RequestSupervision.request_id == Request.id,
                                    RequestSupervision.resolved_at.is_(None))
        stmt = stmt.where(flagged if filters.supervised else ~flagged)
    page = paginate(stmt, [RequestAssignee.due_at, RequestAssignee.request_id], cursor=cursor, limit=limit,
                    key_of=lambda row: [row.queue_due, row.Request.id])
    queue = _queue(actor).subquery()
    held = _claim_holds(queue.c.claimed_by_id, queue.c.claim_expires_at, now)
    counts = db.session.execute(sa.select(
        sa.func.count().label("all"),
        sa.func.coalesce(sa.func.sum(sa.case((queue.c.queue_due < now, 1), else_=0)), 0).label("overdue"),
        sa.func.coalesce(sa.func.sum(sa.case((sa.and_(held, queue.c.claimed_by_id == actor.id), 1), else_=0)), 0)
        .label("claimed_by_me"),
        sa.func.coalesce(sa.func.sum(sa.case((held, 0), else_=1)), 0).label("unclaimed"),
    )).one()
    return TaskPage(
        items=[Task(request=row.Request, due_at=row.queue_due, role=row.role, overdue=row.queue_due < now,
                    claimed_by=claim_holder(row.Request, now)) for row in page.items],
        next_cursor=page.next_cursor,
        counts={"all": counts.all, "overdue": int(counts.overdue), "claimed_by_me": int(counts.claimed_by_me),
                "unclaimed": int(counts.unclaimed)},
    )


def follow_ups_page(actor: Actor, status: str | None, cursor: str | None, limit: int | None) -> Page[Rating]:
    """Ratings of 1 or 2 my department must answer, earliest deadline first."""
    stmt = sa.select(Rating).where(Rating.follow_up_department_id == actor.department_id,
                                   Rating.follow_up_status != "none", Rating.follow_up_due_at.is_not(None))
    if status is not None:
        stmt = stmt.where(Rating.follow_up_status == status)
    return paginate(stmt, [Rating.follow_up_due_at, Rating.id], cursor=cursor, limit=limit)


@dataclass(frozen=True)
class RequestSearch:
    request_id: str | None = None
    service_id: str | None = None
    status: str | None = None
    applicant: str | None = None  # part of the applicant's name, or their phone number
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    overdue: bool | None = None


@dataclass(frozen=True)
class RequestHit:
    """A request found by search, with the applicant's personal data masked."""

    request: Request
    applicant_name: str | None
    applicant_phone: str | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.request, name)


def search_requests(actor: Actor, search: RequestSearch, cursor: str | None, limit: int | None) -> Page[RequestHit]:
    """Requests the actor may see — with their departments now, or handled by them — newest first."""
    from service.accounts.models import Resident

    departments = visible_department_ids(actor)
    directory = department_directory()
    codes = sorted(directory.code_of[d] for d in departments if d in directory.code_of)
    visible = sa.or_(
        sa.exists().where(RequestAssignee.request_id == Request.id, RequestAssignee.department_id.in_(departments)),
        sa.exists().where(RequestEvent.request_id == Request.id, RequestEvent.actor_department.in_(codes)),
    )
    stmt = sa.select(Request, Resident.name, Resident.phone).join(Resident, Resident.id == Request.resident_id)
    stmt = stmt.where(visible)
    if search.request_id:
        stmt = stmt.where(Request.id == search.request_id)
    if search.service_id:
        stmt = stmt.where(Request.service_id == search.service_id)
    if search.status:
        stmt = stmt.where(Request.status == search.status)
    if search.applicant:
        pattern = f"%{search.applicant.strip()}%"
        stmt = stmt.where(sa.or_(Resident.name.like(pattern), Resident.phone == search.applicant.strip()))
    if search.submitted_from:
        stmt = stmt.where(Request.submitted_at >= search.submitted_from)
    if search.submitted_to:
        stmt = stmt.where(Request.submitted_at < search.submitted_to)
    if search.overdue is not None:
        running = Request.closed_at.is_(None)
        late = sa.and_(running, Request.due_at < utcnow())
        stmt = stmt.where(late if search.overdue else ~late)
    page = paginate(stmt, [Request.id], cursor=cursor, limit=limit, descending=True,
                    key_of=lambda row: [row.Request.id])
    return Page(items=[RequestHit(request=row.Request, applicant_name=mask_name(row.name),
                                  applicant_phone=mask_phone(row.phone)) for row in page.items],
                next_cursor=page.next_cursor)


def attachment_ids_of(request: Request) -> set[str]:
    """Every file the resident attached to the request: at submission and in supplements."""
    ids = {i for values in (request.materials or {}).values() for i in values}
    supplements = db.session.execute(
        sa.select(RequestEvent.data).where(RequestEvent.request_id == request.id,
                                           RequestEvent.action == "supplement")).scalars()
    for data in supplements:
        ids |= {i for values in (data.get("materials") or {}).values() for i in values}
    return ids


def material_for_staff(actor: Actor, request_id: str, attachment_id: str) -> Attachment:
    """A file of a request, for staff who may see the request; any other file is "not found"."""
    request = get_request(request_id)
    if not can_view_request(actor, request) or attachment_id not in attachment_ids_of(request):
        raise NotFound("No such material.")
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("No such material.")
    return attachment


def open_supervisions(request_id: str) -> list[RequestSupervision]:
    return list(db.session.execute(
        sa.select(RequestSupervision).where(RequestSupervision.request_id == request_id,
                                            RequestSupervision.resolved_at.is_(None))
        .order_by(RequestSupervision.created_at)).scalars())


def reminders_page(actor: Actor, due_before: datetime | None, cursor: str | None, limit: int | None
                   ) -> Page[RequestSupervision]:
    """My open supervisions that carry a reminder, soonest first."""
    stmt = sa.select(RequestSupervision).where(RequestSupervision.supervisor_id == actor.id,
                                               RequestSupervision.resolved_at.is_(None),
                                               RequestSupervision.remind_at.is_not(None))
    if due_before is not None:
        stmt = stmt.where(RequestSupervision.remind_at <= due_before)
    return paginate(stmt, [RequestSupervision.remind_at, RequestSupervision.id], cursor=cursor, limit=limit)
