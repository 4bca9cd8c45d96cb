"""Days that differ from the Monday-to-Friday rule: official holidays and make-up days, and local closures."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base, UTCDateTime, utcnow

# holiday: an official public holiday (法定节假日); workday: a weekend day worked instead (调休上班);
# closure: a local non-working day the district adds (e.g. a typhoon day).
KINDS = ("holiday", "workday", "closure")
# official: seeded from chinesecalendar; local: set by an administrator, never overwritten by seeding.
SOURCES = ("official", "local")
NON_WORKING_KINDS = ("holiday", "closure")


class CalendarDay(Base):
    """One overridden day; days without a row follow the rule (Mon–Fri working, Sat/Sun not)."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        sa.CheckConstraint(sa.column("kind").in_(KINDS), name="known_kind"),
        sa.CheckConstraint(sa.column("source").in_(SOURCES), name="known_source"),
    )

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(100))
    source: Mapped[str] = mapped_column(sa.String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def is_working_day(self) -> bool:
        return self.kind not in NON_WORKING_KINDS
