"""Attachment metadata; the bytes live in a storage backend under their SHA-256."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base, IdMixin, UTCDateTime, utcnow


class Attachment(IdMixin, Base):
    __tablename__ = "attachments"
    __table_args__ = (sa.Index("ix_attachments_owner", "owner_kind", "owner_id"),)

    owner_kind: Mapped[str] = mapped_column(sa.String(16))
    owner_id: Mapped[str] = mapped_column(sa.String(26))
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(127))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
