"""Staff accounts and their roles (administrators only)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.accounts import operations, queries
from service.accounts.schemas import StaffCreateSchema, StaffSchema
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.idempotency import idempotent
from service.core.pagination import PageArgs, page_schema

PREFIX = "/staff"
blp = Blueprint("console_staff", __name__, description="Organisation: staff accounts and roles.")


class StaffListArgs(PageArgs):
    department_id = ma.fields.String(load_default=None)


@blp.route("", methods=["GET"])
@staff_required("admin")
@blp.arguments(StaffListArgs, location="query")
@blp.response(200, page_schema(StaffSchema))
def list_staff(args: dict[str, Any]) -> Any:
    return queries.staff_page(args["cursor"], args["limit"], args["department_id"])


@blp.route("", methods=["POST"])
@staff_required("admin")
@idempotent()
@blp.arguments(StaffCreateSchema)
@blp.response(201, StaffSchema)
def create_staff(body: dict[str, Any]) -> Any:
    return operations.create_staff(current_actor(), **body), 201
