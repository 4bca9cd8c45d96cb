"""A notice and the revisions of its published text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.concurrency import VersionedMixin
from service.core.db import Base, IdMixin, TimestampMixin, UTCDateTime

STATUSES = ("draft", "in_review", "scheduled", "published", "withdrawn")
CATEGORIES = ("announcement", "policy", "interpretation", "public_notice")
# What each category is called in the mini program and in feeds.
CATEGORY_NAMES = {"announcement": "通知公告", "policy": "政策文件", "interpretation": "政策解读",
                  "public_notice": "公示公告"}
# A scheduled notice is public from its publish time on, before the worker marks it published.
PUBLIC_STATUSES = ("scheduled", "published")


class Notice(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "notices"
    __table_args__ = (
        sa.CheckConstraint(sa.column("status").in_(STATUSES), name="known_status"),
        sa.CheckConstraint(sa.column("category").in_(CATEGORIES), name="known_category"),
        sa.Index("ix_notices_public", "status", "published_at", "id"),
        sa.Index("ix_notices_category_public", "category", "status", "published_at"),
    )

    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text)
    category: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    attachments: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    department_id: Mapped[str | None] = mapped_column(sa.ForeignKey("departments.id"))
    author_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"))
    # Everyone who shaped the text under review (author, editors, who submitted it): none of them may approve it.
    contributors: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the public sees it: set on approval (now, or the scheduled time).
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.Text)
    revision: Mapped[int] = mapped_column(sa.Integer, default=0)
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    history: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # A change of the published text waiting for a reviewer who had no hand in it (four-eyes): {title, summary,
    # body, category, attachments, fields, comment, edited_by, edited_at, contributors}. The public keeps
    # reading the published text until it is approved (then a new revision) or rejected (then dropped).
    pending_revision: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class NoticeRevision(IdMixin, Base):
    """The text of a notice as it was published (number 1) and after each change made after publication."""

    __tablename__ = "notice_revisions"
    __table_args__ = (sa.UniqueConstraint("notice_id", "number"),)

    notice_id: Mapped[str] = mapped_column(sa.ForeignKey("notices.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text)
    category: Mapped[str] = mapped_column(sa.String(32))
    attachments: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    edited_by: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(sa.Text)
    # The reviewer who approved this text (none for revisions recorded before four-eyes covered revisions).
    reviewed_by: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
