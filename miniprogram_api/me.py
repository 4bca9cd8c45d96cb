"""The signed-in resident's own profile, including the enterprise they act for."""

from __future__ import annotations

from typing import Any

from service.accounts import operations, queries
from service.accounts.schemas import ResidentSchema, ResidentUpdateSchema
from service.core.api import Blueprint
from service.core.auth import current_actor, resident_required
from service.core.concurrency import etag_for, expected_version

PREFIX = "/me"
blp = Blueprint("mp_me", __name__, description="The resident's own profile.")


@blp.route("", methods=["GET"])
@resident_required
@blp.response(200, ResidentSchema)
def get_me() -> Any:
    resident = queries.get_resident(current_actor().id)
    return resident, 200, {"ETag": etag_for(resident.version)}


@blp.route("", methods=["PATCH"])
@resident_required
@blp.arguments(ResidentUpdateSchema)
@blp.response(200, ResidentSchema)
@blp.problem(409, "expected_version (or If-Match) is stale.")
def patch_me(body: dict[str, Any]) -> Any:
    """Change the profile; send ``expected_version`` or ``If-Match`` to refuse overwriting a newer edit."""
    expected = expected_version(body.pop("expected_version", None))
    resident = operations.update_resident(current_actor(), body, expected)
    return resident, 200, {"ETag": etag_for(resident.version)}
