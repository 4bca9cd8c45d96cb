"""Catalog items (事项). Each follows the active version of its process definition."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.concurrency import VersionedMixin
from service.core.db import Base, IdMixin, TimestampMixin


class Service(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "services"

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[str] = mapped_column(sa.String(64), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    process_code: Mapped[str] = mapped_column(sa.String(64))
    time_limit_working_days: Mapped[int] = mapped_column(sa.Integer)
    form: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=lambda: {"fields": []})
    materials: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
