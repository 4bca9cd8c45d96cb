"""The audit log: every state change adds one record to the same transaction as the change."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context

from service.core.auth import Actor
from service.core.db import new_id, utcnow
from service.core.direct import DirectStatement
from service.core.models import AuditRecord
from service.core.pagination import Page, paginate

_AUDIT_RECORDS: sa.Table = AuditRecord.__table__  # type: ignore[assignment]
_INSERT_AUDIT = DirectStatement.insert(_AUDIT_RECORDS)


def record(actor: Actor, action: str, object_type: str, object_id: str,
           data: dict[str, Any] | None = None) -> None:
    """Insert the record at once on the session's transaction (no unit of work: it is never read back here)."""
    _INSERT_AUDIT.write({
        "id": new_id(),
        "at": utcnow(),
        "actor_kind": actor.kind,
        "actor_id": actor.id if actor.kind != "system" else None,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "data": data or {},
        "request_id": g.get("request_id") if has_request_context() else None,
    })


def records_page(cursor: str | None, limit: int | None, **filters: str | None) -> Page[AuditRecord]:
    stmt = sa.select(AuditRecord)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(AuditRecord, name) == value)
    return paginate(stmt, [AuditRecord.id], cursor=cursor, limit=limit, descending=True)
