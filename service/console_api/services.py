"""The service catalog (事项) as administrators manage it: forms, materials, time limits, processes."""

from __future__ import annotations

from typing import Any

from service.accounts.roles import roles_for
from service.catalog import operations, queries
from service.catalog.schemas import (
    ServiceCreateSchema,
    ServiceUpdateSchema,
    StaffServiceListArgs,
    StaffServiceSchema,
)
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.concurrency import etag_for, expected_version
from service.core.pagination import page_schema

PREFIX = "/services"
blp = Blueprint("console_services", __name__, description="The service catalog.")


@blp.route("", methods=["GET"])
@staff_required()
@blp.arguments(StaffServiceListArgs, location="query")
@blp.response(200, page_schema(StaffServiceSchema))
def list_services(args: dict[str, Any]) -> Any:
    return queries.all_services_page(args["cursor"], args["limit"], args["include_inactive"])


@blp.route("", methods=["POST"])
@staff_required(*roles_for("catalog.manage"))
@blp.arguments(ServiceCreateSchema)
@blp.response(201, StaffServiceSchema)
@blp.problem(422, "The form, materials or process are invalid; `errors` names each.")
def create_service(body: dict[str, Any]) -> Any:
    service = operations.create_service(current_actor(), **body)
    return service, 201, {"ETag": etag_for(service.version)}


@blp.route("/<service_id>", methods=["GET"])
@staff_required()
@blp.response(200, StaffServiceSchema)
def get_service(service_id: str) -> Any:
    service = queries.get_service(service_id)
    return service, 200, {"ETag": etag_for(service.version)}


@blp.route("/<service_id>", methods=["PATCH"])
@staff_required(*roles_for("catalog.manage"))
@blp.arguments(ServiceUpdateSchema)
@blp.response(200, StaffServiceSchema)
@blp.problem(409, "expected_version (or If-Match) is stale.")
def update_service(body: dict[str, Any], service_id: str) -> Any:
    """Change a service; `active: false` withdraws it from the catalog (running requests go on)."""
    version = expected_version(body.pop("expected_version", None))
    service = operations.update_service(current_actor(), service_id, body, version)
    return service, 200, {"ETag": etag_for(service.version)}
