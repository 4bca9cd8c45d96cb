"""Subscribe-message acceptances: each one-time acceptance of a template allows one message to the resident."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base, IdMixin, UTCDateTime, utcnow


class SubscriptionGrant(IdMixin, Base):
    __tablename__ = "subscription_grants"
    __table_args__ = (sa.Index("ix_subscription_grants_unused", "resident_id", "template_id", "consumed_at"),)

    resident_id: Mapped[str] = mapped_column(sa.ForeignKey("residents.id"))
    template_id: Mapped[str] = mapped_column(sa.String(128))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
