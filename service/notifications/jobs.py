"""The worker's scheduled jobs, each one transaction: reminders and escalations, publication of scheduled
notices, and clean-up of expired tokens, idempotency keys and old outbox messages.

The outbox rows of deadline notices (``step_due_soon``, ``step_overdue``, ``step_escalated``) and supervision
reminders are the only record that they were sent (the reminder scan finds the same deadlines again and again
while a step stays overdue, and drops what the outbox holds already), so the clean-up keeps them while their
request is open or, for supervision reminders, while the request has an unresolved supervision.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from service.core.db import db, read_only_intent, unit_of_work, utcnow
from service.core.models import AccessToken, IdempotencyKey
from service.notices.operations import publish_due_notices
from service.notifications import outbox, reminders
from service.notifications.models import OutboxMessage
from service.requests.models import Request, RequestSupervision

logger = logging.getLogger("civicdesk.worker")
FINISHED = ("delivered", "skipped", "refused")
# Kept while their request is open: the scan would queue them again otherwise.
DEADLINE_EVENTS = ("step_due_soon", "step_overdue", "step_escalated")




def queue_reminders(app: Flask, now: datetime | None = None) -> int:
    """Reminders, overdue notices, escalations and supervision reminders due now (see ``reminders``); how many
    new messages were queued.

    The scan reads with write intent off (on SQLite a deferred transaction, so it never holds the write lock);
    only the messages not queued yet are then inserted, in key order, in a short write transaction.
    """
    at = now or utcnow()
    with app.app_context():
        try:
            with read_only_intent():
                rows = reminders.unsent(reminders.due_messages(at))
                db.session.rollback()
        finally:
            db.session.remove()
    if rows:
        with unit_of_work(app):
            outbox.enqueue(rows)  # sorted by key: two workers lock the unique keys in the same order
    return len(rows)


def publish_notices(app: Flask, now: datetime | None = None) -> int:
    """Publish the notices scheduled for now or earlier; how many."""
    with unit_of_work(app):
        published = int(publish_due_notices(now or utcnow()))
    if published:
        logger.info("published %d scheduled notices", published)
    return published


def clean_up(app: Flask, now: datetime | None = None) -> dict[str, int]:
    """Delete expired access tokens and idempotency keys, and outbox messages finished long ago (except those
    that still stop a reminder from being sent again: see the module's doc)."""
    at = now or utcnow()
    with unit_of_work(app):
        removed = {
            "access_tokens": _delete(sa.delete(AccessToken).where(AccessToken.expires_at < at)),
            "idempotency_keys": _delete(sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at < at)),
            "outbox_messages": 0,
        }
        days = int(current_app.config["OUTBOX_RETENTION_DAYS"])
        if days > 0:
            removed["outbox_messages"] = _delete(
                sa.delete(OutboxMessage).where(OutboxMessage.status.in_(FINISHED),
                                               OutboxMessage.updated_at < at - timedelta(days=days),
                                               sa.not_(_still_needed())))
    if any(removed.values()):
        logger.info("clean-up removed %s", ", ".join(f"{n} {what}" for what, n in removed.items() if n))
    return removed


def _still_needed() -> sa.ColumnElement[bool]:
    """Outbox rows the reminder scan relies on to know it sent them already."""
    open_request = sa.exists().where(Request.id == OutboxMessage.subject_id, Request.closed_at.is_(None))
    unresolved = sa.exists().where(RequestSupervision.request_id == OutboxMessage.subject_id,
                                   RequestSupervision.resolved_at.is_(None))
    return sa.or_(sa.and_(OutboxMessage.event.in_(DEADLINE_EVENTS), open_request),
                  sa.and_(OutboxMessage.event == "supervision_reminder", unresolved))


def _delete(statement: sa.Delete) -> int:
    return int(db.session.execute(statement.execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]
