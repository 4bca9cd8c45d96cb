"""Tables of the shared mechanisms: access tokens, idempotency keys and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import WITHOUT_ROWID, Base, IdMixin, UTCDateTime, utcnow


class AccessToken(IdMixin, Base):
    """A bearer token we issued. Only its SHA-256 is stored; ``kind`` keeps resident and staff tokens apart."""

    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    subject_id: Mapped[str] = mapped_column(sa.String(26), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyKey(Base):
    """A caller's ``Idempotency-Key`` with the fingerprint of the request and, once done, its response."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16))
    response_status: Mapped[int | None] = mapped_column(sa.Integer)
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AuditRecord(IdMixin, Base):
    """Who changed what, written in the same transaction as the change itself; never updated."""

    __tablename__ = "audit_records"
    __table_args__ = (sa.Index("ix_audit_records_object", "object_type", "object_id"), WITHOUT_ROWID)

    # no index on ``at``: records are listed by id, which is time-ordered (ULID)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str | None] = mapped_column(sa.String(26), index=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
