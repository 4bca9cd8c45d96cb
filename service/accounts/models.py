"""Residents, staff, their roles and the department tree (部门)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.concurrency import VersionedMixin
from service.core.db import Base, IdMixin, TimestampMixin, UTCDateTime

ROLES = ("admin", "handler", "supervisor", "publisher", "reviewer")


class Department(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    parent_id: Mapped[str | None] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    parent: Mapped[Department | None] = relationship(remote_side="Department.id", lazy="raise")


class Staff(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "staff"

    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    department_id: Mapped[str] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    role_rows: Mapped[list[StaffRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="StaffRole.role"
    )

    @property
    def roles(self) -> list[str]:
        return [row.role for row in self.role_rows]


class StaffRole(Base):
    __tablename__ = "staff_roles"
    __table_args__ = (sa.CheckConstraint(sa.column("role").in_(ROLES), name="known_role"),)

    staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)


class Resident(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A resident or an enterprise's agent, known by their WeChat openid."""

    __tablename__ = "residents"

    openid: Mapped[str] = mapped_column(sa.String(128), unique=True)
    unionid: Mapped[str | None] = mapped_column(sa.String(128))
    # WeChat's session_key decrypts data the mini program sends; it never leaves the server.
    session_key: Mapped[str | None] = mapped_column(sa.String(128))
    nickname: Mapped[str | None] = mapped_column(sa.String(100))
    name: Mapped[str | None] = mapped_column(sa.String(100))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    id_number: Mapped[str | None] = mapped_column(sa.String(18))
    enterprise_name: Mapped[str | None] = mapped_column(sa.String(200))
    enterprise_uscc: Mapped[str | None] = mapped_column(sa.String(18))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
