"""The audit log, for administrators; read-only by construction (no write endpoint exists)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.accounts.roles import roles_for
from service.core import audit
from service.core.api import Blueprint
from service.core.auth import staff_required
from service.core.pagination import PageArgs, page_schema
from service.core.schemas import LocalDateTime

PREFIX = "/audit"
blp = Blueprint("console_audit", __name__, description="Audit log (administrators).")


class AuditRecordSchema(ma.Schema):
    id = ma.fields.String()
    at = LocalDateTime()
    actor_kind = ma.fields.String()
    actor_id = ma.fields.String(allow_none=True)
    action = ma.fields.String()
    object_type = ma.fields.String()
    object_id = ma.fields.String()
    data = ma.fields.Dict()
    request_id = ma.fields.String(allow_none=True)


class AuditListArgs(PageArgs):
    object_type = ma.fields.String(load_default=None)
    object_id = ma.fields.String(load_default=None)
    actor_id = ma.fields.String(load_default=None)
    action = ma.fields.String(load_default=None)


@blp.route("", methods=["GET"])
@staff_required(*roles_for("audit.read"))
@blp.arguments(AuditListArgs, location="query")
@blp.response(200, page_schema(AuditRecordSchema))
def list_audit(args: dict[str, Any]) -> Any:
    """Newest first."""
    cursor, limit = args.pop("cursor"), args.pop("limit")
    return audit.records_page(cursor, limit, **args)
