"""Reads of subscribe-message templates (from the settings), the acceptances residents gave, staff notifications
and the outbox."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from service.core.auth import Actor
from service.core.db import db
from service.core.pagination import Page, paginate
from service.notifications.models import OutboxMessage, StaffNotification, SubscriptionGrant


@dataclass(frozen=True)
class Template:
    """A subscribe-message template: WeChat's ``id``, the ``event`` it announces and its ``title``."""

    id: str
    event: str
    title: str


def templates() -> list[Template]:
    """The templates the mini program may offer (``WECHAT_SUBSCRIBE_TEMPLATES``), in the order configured."""
    configured = current_app.config["WECHAT_SUBSCRIBE_TEMPLATES"]
    return [Template(id=str(spec["id"]), event=str(event), title=str(spec.get("title", "")))
            for event, spec in configured.items()]


def template_for(event: str) -> Template | None:
    return next((t for t in templates() if t.event == event), None)


def unused_grants(resident_id: str) -> dict[str, int]:
    """How many messages of each template the resident's acceptances still allow (only templates with any)."""
    rows = db.session.execute(
        sa.select(SubscriptionGrant.template_id, sa.func.count())
        .where(SubscriptionGrant.resident_id == resident_id, SubscriptionGrant.consumed_at.is_(None))
        .group_by(SubscriptionGrant.template_id)
    ).all()
    return {template_id: int(count) for template_id, count in rows}


def notifications_page(actor: Actor, unread: bool | None, cursor: str | None,
                       limit: int | None) -> Page[StaffNotification]:
    """The staff member's own notifications, newest first (``unread``: only those not read yet)."""
    stmt = sa.select(StaffNotification).where(StaffNotification.staff_id == actor.id)
    if unread is True:
        stmt = stmt.where(StaffNotification.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(StaffNotification.read_at.is_not(None))
    return paginate(stmt, [StaffNotification.id], cursor=cursor, limit=limit, descending=True)


def unread_count(actor: Actor) -> int:
    return int(db.session.execute(
        sa.select(sa.func.count()).select_from(StaffNotification)
        .where(StaffNotification.staff_id == actor.id, StaffNotification.read_at.is_(None))).scalar_one())


def messages_page(status: str | None, event: str | None, cursor: str | None,
                  limit: int | None) -> Page[OutboxMessage]:
    """Outbox messages, newest first, by status (dead letters: ``dead``) and event."""
    stmt = sa.select(OutboxMessage)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if event is not None:
        stmt = stmt.where(OutboxMessage.event == event)
    return paginate(stmt, [OutboxMessage.id], cursor=cursor, limit=limit, descending=True)
