"""The public catalog (事项): what residents can request, with the form to fill in, the materials to attach,
the legal time limit and how the request will proceed. No token needed."""

from __future__ import annotations

from typing import Any

from service.catalog import queries
from service.catalog.schemas import CategoryListSchema, ServiceDetailSchema, ServiceListArgs, ServiceSchema
from service.core.api import Blueprint
from service.core.pagination import page_schema

PREFIX = ""
blp = Blueprint("mp_services", __name__, description="The public service catalog (no token needed).")


@blp.route("/services", methods=["GET"])
@blp.arguments(ServiceListArgs, location="query")
@blp.response(200, page_schema(ServiceSchema))
@blp.problem(400, "The cursor is malformed.")
def list_services(args: dict[str, Any]) -> Any:
    """Active services by code; ``category`` filters, ``q`` searches the names."""
    return queries.services_page(args["cursor"], args["limit"], args["category"], args["q"])


@blp.route("/services/<service_id>", methods=["GET"])
@blp.response(200, ServiceDetailSchema)
@blp.problem(404, "No such service, or it is no longer offered.")
def get_service(service_id: str) -> Any:
    """One service with its form, materials, time limit and the overview of its process."""
    return queries.service_detail(service_id)


@blp.route("/service-categories", methods=["GET"])
@blp.response(200, CategoryListSchema)
def list_categories() -> Any:
    """The categories of the offered services, with how many each has."""
    return {"items": queries.categories(), "next_cursor": None}
