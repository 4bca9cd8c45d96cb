"""A consultation and, once published, its edited public question and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.concurrency import VersionedMixin
from service.core.db import Base, IdMixin, TimestampMixin, UTCDateTime

STATUSES = ("submitted", "claimed", "answered", "published")


class Consultation(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "consultations"
    __table_args__ = (
        sa.CheckConstraint(sa.column("status").in_(STATUSES), name="known_status"),
        sa.Index("ix_consultations_resident", "resident_id", "id"),
        sa.Index("ix_consultations_queue", "department_id", "status", "due_at"),
    )

    resident_id: Mapped[str] = mapped_column(sa.ForeignKey("residents.id"))
    department_id: Mapped[str] = mapped_column(sa.ForeignKey("departments.id"))
    category: Mapped[str | None] = mapped_column(sa.String(64))
    question: Mapped[str] = mapped_column(sa.Text)
    materials: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted")
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    public_question: Mapped[str | None] = mapped_column(sa.Text)
    public_answer: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
