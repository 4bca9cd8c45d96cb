"""Subscribe-message acceptances (订阅消息): recorded when the resident accepts, consumed when a message is sent;
dead-lettered messages retried; staff notifications marked read.

A one-time acceptance of ``wx.requestSubscribeMessage`` allows exactly one message of that template, so each
accepted template id of each call is one grant row, and sending a message uses up the oldest unused one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from service.accounts.roles import may
from service.core import audit
from service.core.auth import SYSTEM, Actor
from service.core.db import db, utcnow
from service.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service.notifications.models import OutboxMessage, StaffNotification, SubscriptionGrant
from service.notifications.queries import templates

# A grant another sender took between our SELECT and UPDATE: look again, a few times at most.
_CONSUME_ATTEMPTS = 5


def record_acceptances(actor: Actor, template_ids: Sequence[str]) -> list[SubscriptionGrant]:
    """One grant per distinct accepted template id (422 for an id the mini program may not offer)."""
    if actor.kind != "resident":
        raise Forbidden("Only residents accept subscribe messages.")
    accepted = list(dict.fromkeys(template_ids))
    known = {t.id for t in templates()}
    unknown = [i for i in accepted if i not in known]
    if unknown:
        raise ValidationFailed("Unknown subscribe-message template.",
                               errors={"accepted": [f"Unknown template {i!r}." for i in unknown]})
    now = utcnow()
    grants = [SubscriptionGrant(resident_id=actor.id, template_id=i, granted_at=now) for i in accepted]
    db.session.add_all(grants)
    db.session.flush()
    audit.record(actor, "subscription.accepted", "resident", actor.id, {"templates": accepted})
    db.session.flush()
    return grants


def consume_grant(resident_id: str, template_id: str) -> SubscriptionGrant | None:
    """Use up the resident's oldest unused acceptance of the template; None when there is none left.

    Safe with several senders: on PostgreSQL the row is locked with ``SKIP LOCKED`` (a concurrent sender takes
    the next grant instead of waiting), and the UPDATE only succeeds while the grant is still unused.
    """
    skip_locked = db.session.get_bind().dialect.name == "postgresql"
    for _attempt in range(_CONSUME_ATTEMPTS):
        stmt = (sa.select(SubscriptionGrant)
                .where(SubscriptionGrant.resident_id == resident_id, SubscriptionGrant.template_id == template_id,
                       SubscriptionGrant.consumed_at.is_(None))
                .order_by(SubscriptionGrant.granted_at, SubscriptionGrant.id).limit(1))
        if skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        grant = db.session.execute(stmt).scalar_one_or_none()
        if grant is None:
            return None
        now = utcnow()
        result = db.session.execute(
            sa.update(SubscriptionGrant)
            .where(SubscriptionGrant.id == grant.id, SubscriptionGrant.consumed_at.is_(None))
            .values(consumed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            db.session.refresh(grant)
            audit.record(SYSTEM, "subscription.consumed", "resident", resident_id, {"template": template_id})
            db.session.flush()
            return grant
    return None


# --- the outbox: dead letters, and staff notifications read ------------------------------------------------


def retry_message(actor: Actor, message_id: str) -> OutboxMessage:
    """Send a dead-lettered message again from its first attempt (an administrator fixed the cause)."""
    if not may(actor, "notifications.manage"):
        raise Forbidden("Only administrators retry messages.")
    message = db.session.execute(
        sa.select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()).scalar_one_or_none()
    if message is None:
        raise NotFound("No such message.")
    if message.status != "dead":
        raise Conflict(f"Only a dead-lettered message is retried; this one is {message.status}.")
    now = utcnow()
    previous = message.attempts
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = now
    message.updated_at = now
    db.session.flush()
    audit.record(actor, "notification.retried", "outbox_message", message.id,
                 {"event": message.event, "attempts_before": previous})
    return message


def mark_read(actor: Actor, ids: Sequence[str] | None) -> int:
    """Mark the actor's notifications read: those of ``ids`` (others' ids are ignored), or all when None."""
    if actor.kind != "staff":
        raise Forbidden("Only staff have notifications.")
    stmt = (sa.update(StaffNotification)
            .where(StaffNotification.staff_id == actor.id, StaffNotification.read_at.is_(None))
            .values(read_at=utcnow()).execution_options(synchronize_session=False))
    if ids is not None:
        stmt = stmt.where(StaffNotification.id.in_(list(ids)))
    marked = int(db.session.execute(stmt).rowcount)  # type: ignore[attr-defined]
    if marked:
        audit.record(actor, "notification.read", "staff", actor.id, {"count": marked})
    return marked
