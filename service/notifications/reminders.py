"""Deadline reminders, overdue notices and escalation, queued by the worker on working days.

Run on a working day ``T`` (local time), for every step someone must act on (``request_assignees``):

- *due soon*: the step's deadline (23:59:59 of its due day) falls by the end of the next working day after
  ``T`` and has not passed: the department's officers of the step's role hear of it (so before a holiday, on
  its make-up working day, for a deadline on the first day back);
- *overdue*: the deadline has passed: the officers hear of it, and the department's supervisors at once
  (escalation level 1);
- *escalation*: level ``n`` goes to the supervisors of the department ``n - 1`` levels up the tree, ``(n - 1) *
  ESCALATION_WORKING_DAYS`` working days after level 1 (with 2: the first overdue working day, the third, the
  fifth, …).

Nothing is sent on non-working days; what fell due then is sent on the next working day. Each notice is keyed
by the step's deadline, department and role (and level), so running the scan again, or on several workers,
queues it once; a step whose deadline moves (a new step, an extension) is a new deadline with its own notices.
The outbox rows are the record of what was notified: the clean-up keeps them while their request is open
(:func:`service.notifications.jobs.clean_up`). A step whose clock is suspended (waiting for a third party) is
skipped until it runs again.

The job reads without taking SQLite's write lock (:func:`due_messages`, :func:`unsent`) and then writes only
the new messages, sorted by key, in a short transaction of its own (``jobs.queue_reminders``).

Supervisors' own reminders on the requests they flagged (督办, ``remind_at``) are sent when their time comes,
working day or not: they chose the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from service.accounts.models import Department
from service.calendar.queries import load_calendar, time_zone
from service.core.db import db
from service.engine.clock import add_working_days, end_of_day, local_day, working_days_between
from service.engine.serialize import state_from_dict
from service.notifications import outbox
from service.notifications.models import OutboxMessage
from service.requests.models import Request, RequestAssignee, RequestSupervision

_KEYS_PER_LOOKUP = 500


def due_messages(now: datetime) -> list[dict[str, Any]]:
    """The reminders, overdue notices, escalations and supervision reminders due at ``now`` (read only; the ones
    queued already included), sorted by idempotency key."""
    rows = _supervision_reminders(now)
    calendar, tz = load_calendar(), time_zone()
    today = local_day(now, tz)
    if calendar.is_working_day(today):
        horizon = end_of_day(add_working_days(calendar, today, 1), tz)
        rows.extend(_deadline_notices(now, horizon, today))
    return sorted(rows, key=lambda row: str(row["idempotency_key"]))


def unsent(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` less those whose key the outbox holds already (read only)."""
    keys = [str(row["idempotency_key"]) for row in rows]
    known: set[str] = set()
    for start in range(0, len(keys), _KEYS_PER_LOOKUP):
        known.update(db.session.execute(
            sa.select(OutboxMessage.idempotency_key)
            .where(OutboxMessage.idempotency_key.in_(keys[start:start + _KEYS_PER_LOOKUP]))).scalars())
    return [row for row in rows if row["idempotency_key"] not in known]


def scan(now: datetime) -> int:
    """Queue what is due at ``now`` on the current transaction; how many new messages."""
    rows = unsent(due_messages(now))
    outbox.enqueue(rows)
    return len(rows)


def _deadline_notices(now: datetime, horizon: datetime, today: date) -> list[dict[str, Any]]:
    calendar, tz = load_calendar(), time_zone()
    every = max(int(current_app.config["ESCALATION_WORKING_DAYS"]), 1)
    candidates = _assignments(horizon)
    if not candidates:
        return []
    departments = {d.id: d for d in _departments()}
    rows: list[dict[str, Any]] = []
    for request_id, department_id, role, state_data in candidates:
        state = state_from_dict(state_data)
        clock = state.step_clock or state.clock
        if clock.suspended or state.clock.stopped_at is not None:
            continue
        due_at = clock.due_at(calendar, tz, now)
        if due_at > horizon:
            continue
        due = due_at.astimezone(UTC).isoformat()
        key = f"{request_id}:{department_id}:{role}:{due}"
        payload = {"due_at": due, "step": state.step}
        if now <= due_at:
            rows.append(outbox.staff_message("step_due_soon", f"step_due_soon:{key}", department_id, {role},
                                             "request", request_id, payload, now))
            continue
        rows.append(outbox.staff_message("step_overdue", f"step_overdue:{key}", department_id, {role},
                                         "request", request_id, payload, now))
        # the first overdue working day counts 1 (level 1 goes out that day); level n, (n - 1) * every later
        overdue_days = max(working_days_between(calendar, local_day(due_at, tz), today), 1)
        department = departments.get(department_id)
        name = department.name if department else ""
        level = 1
        target: str | None = department_id
        while target is not None and overdue_days - 1 >= (level - 1) * every:
            rows.append(outbox.staff_message(
                "step_escalated", f"step_escalated:{key}:{level}", target, {"supervisor"}, "request", request_id,
                {**payload, "level": level, "working_days_overdue": overdue_days, "department_name": name}, now))
            parent = departments.get(target)
            target = parent.parent_id if parent else None
            level += 1
    return rows


def _assignments(horizon: datetime) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Who must act on which open request, for queue deadlines up to ``horizon``."""
    result = db.session.execute(
        sa.select(RequestAssignee.request_id, RequestAssignee.department_id, RequestAssignee.role, Request.state)
        .join(Request, Request.id == RequestAssignee.request_id)
        .where(RequestAssignee.due_at <= horizon, Request.closed_at.is_(None))
        .order_by(RequestAssignee.due_at, RequestAssignee.request_id))
    return [(r[0], r[1], r[2], r[3]) for r in result]


def _departments() -> Iterable[Department]:
    return db.session.execute(sa.select(Department)).scalars().all()


def _supervision_reminders(now: datetime) -> list[dict[str, Any]]:
    due = db.session.execute(
        sa.select(RequestSupervision)
        .where(RequestSupervision.resolved_at.is_(None), RequestSupervision.remind_at <= now)
        .order_by(RequestSupervision.id)).scalars()
    return [outbox.message("staff", "supervision_reminder", f"supervision_reminder:{s.id}:{s.remind_at.isoformat()}",
                           "staff", s.supervisor_id, "request", s.request_id,
                           {"supervision_id": s.id, "comment": (s.comment or "")[:500]}, now)
            for s in due if s.remind_at is not None]
