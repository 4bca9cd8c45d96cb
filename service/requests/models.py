"""Requests, their immutable events (流转记录), who is expected to act on them now, and their ratings (好差评)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.concurrency import VersionedMixin
from service.core.db import WITHOUT_ROWID, Base, IdMixin, TimestampMixin, UTCDateTime, utcnow

STATUSES = ("submitted", "in_progress", "awaiting_supplement", "completed", "rejected", "withdrawn")


class Request(IdMixin, VersionedMixin, TimestampMixin, Base):
    """The current state of a request; ``state`` is the engine's, the other columns copy what queries need."""

    __tablename__ = "requests"
    __table_args__ = (
        sa.Index("ix_requests_resident", "resident_id", "id"),
        # statistics: arrivals and completions by period
        sa.Index("ix_requests_submitted_at", "submitted_at"),
        sa.Index("ix_requests_closed_at", "closed_at"),
        sa.CheckConstraint(sa.column("status").in_(STATUSES), name="known_status"),
    )

    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id"), index=True)
    process_version_id: Mapped[str] = mapped_column(sa.ForeignKey("process_versions.id"), index=True)
    resident_id: Mapped[str] = mapped_column(sa.ForeignKey("residents.id"))
    status: Mapped[str] = mapped_column(sa.String(32), index=True)
    current_step: Mapped[str] = mapped_column(sa.String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    step_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by_id: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    form: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    materials: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    event_count: Mapped[int] = mapped_column(sa.Integer, default=0)


class RequestEvent(IdMixin, Base):
    """Never updated: the request's history, from which its state can be rebuilt."""

    __tablename__ = "request_events"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "seq"),
        # statistics and the event log: the requests a department acted on
        sa.Index("ix_request_events_department", "actor_department", "request_id"),
        WITHOUT_ROWID,
    )

    request_id: Mapped[str] = mapped_column(sa.ForeignKey("requests.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    action: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str] = mapped_column(sa.String(64))
    actor_department: Mapped[str | None] = mapped_column(sa.String(64))
    from_step: Mapped[str | None] = mapped_column(sa.String(64))
    to_step: Mapped[str] = mapped_column(sa.String(64))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    public: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class RequestAssignee(Base):
    """Who is expected to act on a request now: its step's department (or each one yet to countersign)."""

    __tablename__ = "request_assignees"
    __table_args__ = (sa.Index("ix_request_assignees_queue", "department_id", "due_at"), WITHOUT_ROWID)

    request_id: Mapped[str] = mapped_column(sa.ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[str] = mapped_column(sa.ForeignKey("departments.id"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    # the step's deadline, or the request's where the step has none: what a work queue sorts by
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())


FOLLOW_UP_STATUSES = ("none", "open", "answered", "closed")


class Rating(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A 1–5 rating of a finished request; 1 or 2 opens a follow-up (差评整改) the department must answer."""

    __tablename__ = "ratings"
    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        sa.CheckConstraint(sa.column("follow_up_status").in_(FOLLOW_UP_STATUSES), name="known_follow_up_status"),
        sa.Index("ix_ratings_follow_up_queue", "follow_up_department_id", "follow_up_status", "follow_up_due_at"),
    )

    request_id: Mapped[str] = mapped_column(sa.ForeignKey("requests.id"), unique=True)
    resident_id: Mapped[str] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("services.id"), index=True)
    level: Mapped[int] = mapped_column(sa.Integer)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    follow_up_status: Mapped[str] = mapped_column(sa.String(16), default="none")
    follow_up_department_id: Mapped[str | None] = mapped_column(sa.ForeignKey("departments.id"))
    follow_up_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up_answer: Mapped[str | None] = mapped_column(sa.Text)
    follow_up_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up_answered_by: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class RequestNote(IdMixin, Base):
    """An internal note by staff on a request; never shown to the resident."""

    __tablename__ = "request_notes"
    __table_args__ = (sa.Index("ix_request_notes_request", "request_id", "created_at"),)

    request_id: Mapped[str] = mapped_column(sa.ForeignKey("requests.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"))
    department_id: Mapped[str | None] = mapped_column(sa.ForeignKey("departments.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RequestSupervision(IdMixin, Base):
    """A supervisor's flag on a request (督办), with a reminder time for the worker to act on."""

    __tablename__ = "request_supervisions"
    __table_args__ = (
        sa.Index("ix_request_supervisions_request", "request_id"),
        sa.Index("ix_request_supervisions_reminders", "supervisor_id", "resolved_at", "remind_at"),
    )

    request_id: Mapped[str] = mapped_column(sa.ForeignKey("requests.id", ondelete="CASCADE"))
    supervisor_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"))
    comment: Mapped[str] = mapped_column(sa.Text)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
