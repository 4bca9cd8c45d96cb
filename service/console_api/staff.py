"""Staff accounts and their roles (administrators only)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.accounts import operations, queries
from service.accounts.roles import roles_for
from service.accounts.schemas import PasswordResetSchema, StaffCreateSchema, StaffSchema, StaffUpdateSchema
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.concurrency import etag_for, expected_version
from service.core.idempotency import idempotent
from service.core.pagination import PageArgs, page_schema

PREFIX = "/staff"
blp = Blueprint("console_staff", __name__, description="Organisation: staff accounts and roles.")


class StaffListArgs(PageArgs):
    department_id = ma.fields.String(load_default=None)


@blp.route("", methods=["GET"])
@staff_required(*roles_for("organisation.manage"))
@blp.arguments(StaffListArgs, location="query")
@blp.response(200, page_schema(StaffSchema))
def list_staff(args: dict[str, Any]) -> Any:
    return queries.staff_page(args["cursor"], args["limit"], args["department_id"])


@blp.route("", methods=["POST"])
@staff_required(*roles_for("organisation.manage"))
@idempotent()
@blp.arguments(StaffCreateSchema)
@blp.response(201, StaffSchema)
def create_staff(body: dict[str, Any]) -> Any:
    return operations.create_staff(current_actor(), **body), 201


@blp.route("/<staff_id>", methods=["GET"])
@staff_required(*roles_for("organisation.manage"))
@blp.response(200, StaffSchema)
def get_staff(staff_id: str) -> Any:
    staff = queries.get_staff(staff_id)
    return staff, 200, {"ETag": etag_for(staff.version)}


@blp.route("/<staff_id>", methods=["PATCH"])
@staff_required(*roles_for("organisation.manage"))
@blp.arguments(StaffUpdateSchema)
@blp.response(200, StaffSchema)
@blp.problem(409, "Stale expected_version, or an administrator disabling themselves.")
def update_staff(body: dict[str, Any], staff_id: str) -> Any:
    """Rename, move to another department, change roles, or disable (`active: false`, tokens revoked)."""
    version = expected_version(body.pop("expected_version", None))
    staff = operations.update_staff(current_actor(), staff_id, body, version)
    return staff, 200, {"ETag": etag_for(staff.version)}


@blp.route("/<staff_id>/password", methods=["POST"])
@staff_required(*roles_for("organisation.manage"))
@blp.arguments(PasswordResetSchema)
@blp.response(204)
def reset_password(body: dict[str, Any], staff_id: str) -> None:
    """Set a new password: the account's tokens are revoked and any lockout lifted."""
    operations.reset_password(current_actor(), staff_id, body["password"])
