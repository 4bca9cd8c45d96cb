"""Reads of subscribe-message templates (from the settings) and of the acceptances residents gave."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from service.core.db import db
from service.notifications.models import SubscriptionGrant


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
