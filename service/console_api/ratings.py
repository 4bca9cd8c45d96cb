"""Follow-ups of bad ratings (差评整改): the department's queue of ratings of 1 or 2, and their answers."""

from __future__ import annotations

from typing import Any

from service.accounts.roles import roles_for
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.concurrency import etag_for, expected_version
from service.core.pagination import page_schema
from service.requests import operations, queries
from service.requests.schemas import FollowUpAnswerSchema, FollowUpCloseSchema, FollowUpListArgs, FollowUpTaskSchema

PREFIX = "/ratings"
blp = Blueprint("console_ratings", __name__, description="Follow-ups of bad ratings.")


@blp.route("/follow-ups", methods=["GET"])
@staff_required(*roles_for("requests.handle"))
@blp.arguments(FollowUpListArgs, location="query")
@blp.response(200, page_schema(FollowUpTaskSchema))
def list_follow_ups(args: dict[str, Any]) -> Any:
    """My department's follow-ups, earliest deadline first (`?status=open|answered`)."""
    return queries.follow_ups_page(current_actor(), args["status"], args["cursor"], args["limit"])


@blp.route("/<rating_id>/follow-up", methods=["POST"])
@staff_required(*roles_for("requests.handle"))
@blp.arguments(FollowUpAnswerSchema)
@blp.response(200, FollowUpTaskSchema)
@blp.problem(409, "Stale expected_version, or answered already.")
def answer_follow_up(body: dict[str, Any], rating_id: str) -> Any:
    rating = operations.answer_follow_up(current_actor(), rating_id, body["answer"],
                                         expected_version(body["expected_version"]))
    return rating, 200, {"ETag": etag_for(rating.version)}


@blp.route("/<rating_id>/follow-up/close", methods=["POST"])
@staff_required(*roles_for("requests.supervise"))
@blp.arguments(FollowUpCloseSchema)
@blp.response(200, FollowUpTaskSchema)
@blp.problem(409, "Stale expected_version, or not answered yet.")
def close_follow_up(body: dict[str, Any], rating_id: str) -> Any:
    """A supervisor closes the answered follow-up of their department."""
    rating = operations.close_follow_up(current_actor(), rating_id, expected_version(body["expected_version"]))
    return rating, 200, {"ETag": etag_for(rating.version)}
