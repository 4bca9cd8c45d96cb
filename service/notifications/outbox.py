"""The transactional outbox: a message owed is written in the same transaction as the event that causes it.

So a committed event always has its message and a rolled-back one never does; the worker delivers them later
(:mod:`service.notifications.delivery`). Each message's ``idempotency_key`` names its cause, and a second
message for the same cause is silently dropped (``ON CONFLICT DO NOTHING``), so a job that runs twice or two
workers that look at the same deadline queue one message.

The request hook runs on every action of every office: it decides from the action and the new state alone
(dict lookups, no SELECT) and writes with one Core INSERT only when a message is due.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from service.accounts.queries import DepartmentDirectory
from service.core.db import db, new_id, utcnow
from service.core.direct import DirectStatement
from service.notifications.models import OutboxMessage

if TYPE_CHECKING:
    from service.consultations.models import Consultation
    from service.engine.runtime import Event, RequestState
    from service.requests.models import Rating, RequestSupervision

class RequestRow(Protocol):
    """What the hook reads of a request: the row, or the columns an action locked."""

    id: str
    event_count: int
    resident_id: str


_TABLE: sa.Table = OutboxMessage.__table__  # type: ignore[assignment]
_ALL_COLUMNS: dict[str, sa.BindParameter[Any]] = {column.name: sa.bindparam(column.name) for column in _TABLE.c}
_UNSET = {column.name: None for column in _TABLE.c}  # what message() leaves out is empty until delivery
_INSERT_IGNORE = DirectStatement({
    name: dialect.insert(_TABLE).values(_ALL_COLUMNS).on_conflict_do_nothing(index_elements=["idempotency_key"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))})

# Resident messages (WeChat subscribe messages), by the action that causes them ...
RESIDENT_ACTION_EVENTS = {"accept": "request_accepted", "dispatch": "request_accepted",
                          "request_materials": "materials_requested"}
# ... or by the outcome a request reaches.
RESIDENT_OUTCOME_EVENTS = {"completed": "request_completed", "rejected": "request_rejected"}
RESIDENT_EVENTS = ("request_accepted", "materials_requested", "request_completed", "request_rejected",
                   "consultation_answered", "follow_up_answered")
# Staff messages (console and the staff channel).
STAFF_EVENTS = ("step_due_soon", "step_overdue", "step_escalated", "request_supervised", "countersign_waiting",
                "bad_rating", "supervision_reminder")
HANDLING_ROLES = ("handler", "supervisor")
_COMMENT_MAX = 500


def message(channel: str, event: str, key: str, recipient_kind: str, recipient_id: str, subject_type: str,
            subject_id: str, payload: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """One outbox row, as values for :func:`enqueue`."""
    at = now or utcnow()
    return {"id": new_id(), "idempotency_key": key, "channel": channel, "event": event,
            "recipient_kind": recipient_kind, "recipient_id": recipient_id, "subject_type": subject_type,
            "subject_id": subject_id, "payload": dict(payload), "status": "pending", "attempts": 0,
            "next_attempt_at": at, "created_at": at, "updated_at": at}


def enqueue(rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the messages on the session's transaction; one whose key exists already is dropped."""
    _INSERT_IGNORE.write_many([{**_UNSET, **row} for row in rows])


def staff_message(event: str, key: str, department_id: str, roles: Iterable[str], subject_type: str,
                  subject_id: str, payload: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A message to the staff of a department who hold one of ``roles`` (resolved when it is delivered)."""
    return message("staff", event, key, "department", department_id, subject_type, subject_id,
                   {**payload, "roles": sorted(set(roles))}, now)


def _short(text: str | None) -> str | None:
    return text[:_COMMENT_MAX] if text else None


# --- hooks called by the domain operations ------------------------------------------------------------------


def on_request_event(request: RequestRow, event: Event, state: RequestState,
                     departments: DepartmentDirectory) -> None:
    """After a request's event is written (``submit``, ``act``): queue what it announces, if anything.

    ``departments`` is the directory the action read before it began writing: on PostgreSQL the writes are in
    flight in pipeline mode by now, and no query could be read back (so none may be made here)."""
    kind = RESIDENT_ACTION_EVENTS.get(event.action)
    if kind is None and event.from_step != event.to_step:
        kind = RESIDENT_OUTCOME_EVENTS.get(state.status)
    countersign = state.countersign is not None and (event.from_step != event.to_step
                                                      or event.action == "add_signer")
    supervised = event.action == "supervise" and state.assignment is not None  # 督办 as a step's own action
    if kind is None and not countersign and not supervised:
        return
    rows = []
    if kind is not None:
        payload: dict[str, Any] = {"action": event.action, "at": event.at.isoformat(), "step": event.to_step,
                                   "comment": _short(event.comment)}
        if kind == "materials_requested":
            payload["asked"] = [str(item)[:200] for item in event.data.get("items") or ()]
        # accepted once per request (a complaint dispatched, sent back and dispatched again is one acceptance);
        # the other events each time they happen
        key = f"{kind}:{request.id}" if kind == "request_accepted" else f"{kind}:{request.id}:{request.event_count}"
        rows.append(message("wechat", kind, key, "resident", request.resident_id, "request", request.id, payload,
                            event.at))
    if countersign and state.countersign is not None:
        id_of = departments.id_of
        entered = state.step_entered_at.isoformat()
        for code in state.countersign.pending:
            department_id = id_of.get(code)
            if department_id is not None:
                rows.append(staff_message(
                    "countersign_waiting", f"countersign_waiting:{request.id}:{entered}:{department_id}",
                    department_id, HANDLING_ROLES, "request", request.id, {"step": event.to_step}, event.at))
    if supervised and state.assignment is not None:
        department_id = departments.id_of.get(state.assignment.department)
        if department_id is not None:
            rows.append(staff_message(
                "request_supervised", f"request_supervised:{request.id}:{request.event_count}", department_id,
                {state.assignment.role, "supervisor"}, "request", request.id,
                {"comment": _short(event.comment), "exclude": [event.actor_id]}, event.at))
    enqueue(rows)


def on_consultation_answered(consultation: Consultation) -> None:
    """The resident hears that their question was answered (each answer once; a send-back may bring another)."""
    enqueue([message("wechat", "consultation_answered",
                     f"consultation_answered:{consultation.id}:{len(consultation.history)}", "resident",
                     consultation.resident_id, "consultation", consultation.id,
                     {"at": (consultation.answered_at or utcnow()).isoformat()})])


def on_rated(rating: Rating) -> None:
    """A bad rating (差评) opens a follow-up: the department that must answer it hears of it."""
    if rating.follow_up_status != "open" or rating.follow_up_department_id is None:
        return
    enqueue([staff_message("bad_rating", f"bad_rating:{rating.id}", rating.follow_up_department_id, HANDLING_ROLES,
                           "request", rating.request_id,
                           {"rating_id": rating.id, "level": rating.level,
                            "due_at": rating.follow_up_due_at.isoformat() if rating.follow_up_due_at else None})])


def on_follow_up_answered(rating: Rating) -> None:
    """The resident hears the department's answer to their bad rating."""
    enqueue([message("wechat", "follow_up_answered", f"follow_up_answered:{rating.id}", "resident",
                     rating.resident_id, "request", rating.request_id,
                     {"rating_id": rating.id,
                      "at": (rating.follow_up_answered_at or utcnow()).isoformat()})])


def on_supervised(supervision: RequestSupervision) -> None:
    """A supervisor flagged a request (督办): whoever must act on it now hears of it."""
    from service.requests.models import RequestAssignee

    assignees = db.session.execute(
        sa.select(RequestAssignee.department_id, RequestAssignee.role)
        .where(RequestAssignee.request_id == supervision.request_id)).all()
    enqueue([staff_message("request_supervised", f"request_supervised:{supervision.id}:{department_id}",
                           department_id, {role, "supervisor"}, "request", supervision.request_id,
                           {"supervision_id": supervision.id, "comment": _short(supervision.comment),
                            "exclude": [supervision.supervisor_id]})
             for department_id, role in assignees])
