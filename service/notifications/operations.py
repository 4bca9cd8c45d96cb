"""Subscribe-message acceptances (订阅消息): recorded when the resident accepts, consumed when a message is sent.

A one-time acceptance of ``wx.requestSubscribeMessage`` allows exactly one message of that template, so each
accepted template id of each call is one grant row, and sending a message uses up the oldest unused one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from service.core import audit
from service.core.auth import SYSTEM, Actor
from service.core.db import db, utcnow
from service.core.errors import Forbidden, ValidationFailed
from service.notifications.models import SubscriptionGrant
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
