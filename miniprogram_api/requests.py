"""A resident's requests: submit (retry-safe), list, follow the timeline, supplement, withdraw, rate."""

from __future__ import annotations

from typing import Any

from service.core.api import Blueprint
from service.core.auth import current_actor, resident_required
from service.core.concurrency import etag_for, expected_version
from service.core.idempotency import idempotent
from service.core.pagination import page_schema
from service.requests import operations, queries
from service.requests.schemas import (
    RatingCreateSchema,
    RatingSchema,
    RequestCreateSchema,
    ResidentRequestListArgs,
    ResidentRequestSchema,
    ResidentRequestSummarySchema,
    SupplementSchema,
    WithdrawSchema,
)

PREFIX = "/requests"
blp = Blueprint("mp_requests", __name__, description="The resident's requests (办件).")


def _view(request_id: str, status: int = 200) -> Any:
    view = queries.resident_view(current_actor(), request_id)
    return view, status, {"ETag": etag_for(view.request.version)}


@blp.route("", methods=["POST"])
@resident_required
@idempotent(required=True)
@blp.arguments(RequestCreateSchema)
@blp.response(201, ResidentRequestSchema)
@blp.problem(422, "The form or the materials do not satisfy the service; `errors` names each field.")
def submit(body: dict[str, Any]) -> Any:
    """Submit a request of a service. Needs an `Idempotency-Key`: a retry replays the first answer."""
    request = operations.submit_request(current_actor(), body["service_id"], body["form"], body["materials"])
    return _view(request.id, 201)


@blp.route("", methods=["GET"])
@resident_required
@blp.arguments(ResidentRequestListArgs, location="query")
@blp.response(200, page_schema(ResidentRequestSummarySchema))
def list_requests(args: dict[str, Any]) -> Any:
    """My requests, newest first."""
    return queries.resident_requests_page(current_actor(), args["status"], args["cursor"], args["limit"])


@blp.route("/<request_id>", methods=["GET"])
@resident_required
@blp.response(200, ResidentRequestSchema)
def get_request(request_id: str) -> Any:
    """Where the request stands, its deadline, what is asked of me, and its public timeline."""
    return _view(request_id)


@blp.route("/<request_id>/supplements", methods=["POST"])
@resident_required
@blp.arguments(SupplementSchema)
@blp.response(200, ResidentRequestSchema)
@blp.problem(409, "Stale expected_version, or nothing is asked of you now.")
def supplement(body: dict[str, Any], request_id: str) -> Any:
    """Provide the materials or answers staff asked for (the clock resumes or restarts, as the process says)."""
    operations.supplement(current_actor(), request_id, body["materials"], body["answers"], body["comment"],
                          expected_version(body["expected_version"]))
    return _view(request_id)


@blp.route("/<request_id>/withdraw", methods=["POST"])
@resident_required
@blp.arguments(WithdrawSchema)
@blp.response(200, ResidentRequestSchema)
@blp.problem(409, "Stale expected_version, or the process does not allow withdrawing now.")
def withdraw(body: dict[str, Any], request_id: str) -> Any:
    operations.act(current_actor(), request_id, "withdraw", body["comment"], {},
                   expected_version(body["expected_version"]))
    return _view(request_id)


@blp.route("/<request_id>/rating", methods=["POST"])
@resident_required
@blp.arguments(RatingCreateSchema)
@blp.response(201, RatingSchema)
@blp.problem(409, "The request is not completed, or was rated already.")
def rate(body: dict[str, Any], request_id: str) -> Any:
    """Rate a completed request once (5 非常满意 … 1 非常不满意); 1 or 2 opens a follow-up (差评整改)."""
    return operations.rate(current_actor(), request_id, body["level"], body["comment"], body["tags"]), 201
