"""Process definition versions: immutable once stored; exactly one version of a process is active."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base, IdMixin, UTCDateTime, utcnow


class ProcessVersion(IdMixin, Base):
    __tablename__ = "process_versions"
    __table_args__ = (
        sa.UniqueConstraint("code", "version"),
        sa.Index("ix_process_versions_one_active", "code", unique=True,
                 sqlite_where=sa.text("active"), postgresql_where=sa.text("active")),
    )

    code: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    checksum: Mapped[str] = mapped_column(sa.String(64))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(sa.String(26))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
