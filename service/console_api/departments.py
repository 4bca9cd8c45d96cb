"""The department tree (部门): every staff member reads it, administrators change it."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.accounts import operations, queries
from service.accounts.roles import roles_for
from service.accounts.schemas import DepartmentCreateSchema, DepartmentSchema, DepartmentUpdateSchema
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.concurrency import etag_for, expected_version
from service.core.idempotency import idempotent
from service.core.pagination import PageArgs, page_schema

PREFIX = "/departments"
blp = Blueprint("console_departments", __name__, description="Organisation: departments.")


class DepartmentListArgs(PageArgs):
    parent_id = ma.fields.String(load_default=None)


@blp.route("", methods=["GET"])
@staff_required()
@blp.arguments(DepartmentListArgs, location="query")
@blp.response(200, page_schema(DepartmentSchema))
def list_departments(args: dict[str, Any]) -> Any:
    return queries.departments_page(args["cursor"], args["limit"], args["parent_id"])


@blp.route("", methods=["POST"])
@staff_required(*roles_for("organisation.manage"))
@idempotent()
@blp.arguments(DepartmentCreateSchema)
@blp.response(201, DepartmentSchema)
def create_department(body: dict[str, Any]) -> Any:
    department = operations.create_department(current_actor(), body["code"], body["name"], body["parent_id"])
    return department, 201, {"ETag": etag_for(department.version)}


@blp.route("/<department_id>", methods=["GET"])
@staff_required()
@blp.response(200, DepartmentSchema)
def get_department(department_id: str) -> Any:
    department = queries.get_department(department_id)
    return department, 200, {"ETag": etag_for(department.version)}


@blp.route("/<department_id>", methods=["PATCH"])
@staff_required(*roles_for("organisation.manage"))
@blp.arguments(DepartmentUpdateSchema)
@blp.response(200, DepartmentSchema)
@blp.problem(409, "expected_version (or If-Match) is stale.")
def update_department(body: dict[str, Any], department_id: str) -> Any:
    expected = expected_version(body.pop("expected_version", None))
    department = operations.update_department(current_actor(), department_id, body, expected)
    return department, 200, {"ETag": etag_for(department.version)}
