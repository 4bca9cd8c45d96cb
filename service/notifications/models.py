"""Subscribe-message acceptances (each allows one message), the outbox of messages owed, and staff notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import WITHOUT_ROWID, Base, IdMixin, UTCDateTime, utcnow


class SubscriptionGrant(IdMixin, Base):
    __tablename__ = "subscription_grants"
    __table_args__ = (sa.Index("ix_subscription_grants_unused", "resident_id", "template_id", "consumed_at"),)

    resident_id: Mapped[str] = mapped_column(sa.ForeignKey("residents.id"))
    template_id: Mapped[str] = mapped_column(sa.String(128))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- the outbox ----------------------------------------------------------------------------------------------

CHANNELS = ("wechat", "staff")
# pending: waiting (maybe for a retry); sending: claimed by a worker until ``claimed_until``; delivered; skipped:
# nothing to send (no acceptance, no recipient); refused: WeChat refused for good (e.g. 43101); dead: gave up
# after the attempts allowed or a permanent error, until an administrator retries it.
MESSAGE_STATUSES = ("pending", "sending", "delivered", "skipped", "refused", "dead")


class OutboxMessage(IdMixin, Base):
    """A message owed to someone, written in the same transaction as the event that causes it (outbox).

    ``idempotency_key`` names the cause (event, object, occurrence), so the same cause never queues two messages.
    A message is recorded delivered exactly once but may be *sent* more than once (a worker's claim taken over
    after its lease ran out, a send whose answer timed out): staff channel adapters get a key derived from it
    (``<key>:<staff id>``) with every attempt so they can drop repeats; WeChat's subscribe/send takes no such
    key, so a resident may now and then receive a message twice.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.CheckConstraint(sa.column("channel").in_(CHANNELS), name="known_channel"),
        sa.CheckConstraint(sa.column("status").in_(MESSAGE_STATUSES), name="known_status"),
        sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_messages_subject", "subject_type", "subject_id"),
        WITHOUT_ROWID,
    )

    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    event: Mapped[str] = mapped_column(sa.String(64))
    # resident (id), department (id; payload "roles" says whose), or staff (id)
    recipient_kind: Mapped[str] = mapped_column(sa.String(16))
    recipient_id: Mapped[str] = mapped_column(sa.String(26))
    subject_type: Mapped[str] = mapped_column(sa.String(32))
    subject_id: Mapped[str] = mapped_column(sa.String(26))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claim_token: Mapped[str | None] = mapped_column(sa.String(26))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grant_id: Mapped[str | None] = mapped_column(sa.ForeignKey("subscription_grants.id"))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffNotification(IdMixin, Base):
    """A staff member's notification in the console, one per recipient of a staff message."""

    __tablename__ = "staff_notifications"
    __table_args__ = (
        sa.UniqueConstraint("message_id", "staff_id"),
        sa.Index("ix_staff_notifications_inbox", "staff_id", "read_at", "id"),
    )

    staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"))
    message_id: Mapped[str | None] = mapped_column(sa.ForeignKey("outbox_messages.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    subject_type: Mapped[str] = mapped_column(sa.String(32))
    subject_id: Mapped[str] = mapped_column(sa.String(26))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
