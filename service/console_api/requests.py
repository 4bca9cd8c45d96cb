"""Requests as staff handle them: the full view, and actions the engine checks against the process."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, send_file

from service.accounts.roles import roles_for
from service.attachments.storage import storage_for
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.concurrency import etag_for, expected_version
from service.core.pagination import page_schema
from service.requests import operations, queries
from service.requests.schemas import (
    ActionSchema,
    NoteSchema,
    RequestHitSchema,
    RequestSearchArgs,
    StaffRequestSchema,
    SupervisionSchema,
)

PREFIX = "/requests"
blp = Blueprint("console_requests", __name__, description="Requests: detail and actions.")


@blp.route("", methods=["GET"])
@staff_required(*roles_for("requests.handle"))
@blp.arguments(RequestSearchArgs, location="query")
@blp.response(200, page_schema(RequestHitSchema))
def search(args: dict[str, Any]) -> Any:
    """Requests my department has or had (a supervisor: also the departments below), newest first; the
    applicant's name and phone are masked."""
    cursor, limit = args.pop("cursor"), args.pop("limit")
    return queries.search_requests(current_actor(), queries.RequestSearch(**args), cursor, limit)


@blp.route("/<request_id>", methods=["GET"])
@staff_required()
@blp.response(200, StaffRequestSchema)
def get_request(request_id: str) -> Any:
    """Full detail, with the actions allowed to you now and who is expected to act."""
    view = queries.staff_view(current_actor(), request_id)
    return view, 200, {"ETag": etag_for(view.request.version)}


@blp.route("/<request_id>/actions", methods=["POST"])
@staff_required()
@blp.arguments(ActionSchema)
@blp.response(200, StaffRequestSchema)
@blp.problem(409, "Stale expected_version, or the action is not possible in the current step "
                                   "(`allowed_actions` lists what is).")
@blp.problem(403, "You may not act on this request (or not with this action).")
def act(body: dict[str, Any], request_id: str) -> Any:
    actor = current_actor()
    operations.act(actor, request_id, body["action"], body["comment"], body["data"],
                   expected_version(body["expected_version"]))
    view = queries.staff_view(actor, request_id)
    return view, 200, {"ETag": etag_for(view.request.version)}


@blp.route("/<request_id>/notes", methods=["POST"])
@staff_required()
@blp.arguments(NoteSchema)
@blp.response(201, NoteSchema)
def add_note(body: dict[str, Any], request_id: str) -> Any:
    """An internal note on the request: seen by staff, never by the resident."""
    return operations.add_note(current_actor(), request_id, body["body"]), 201


@blp.route("/<request_id>/materials/<attachment_id>", methods=["GET"])
@staff_required()
@blp.response(200, content_type="application/octet-stream",
              description="The file, with the content type detected when it was uploaded.")
def download_material(request_id: str, attachment_id: str) -> Response:
    """A file the resident attached (at submission or in a supplement), for staff who may see the request."""
    attachment = queries.material_for_staff(current_actor(), request_id, attachment_id)
    stream = storage_for(current_app).open(attachment.sha256)
    return send_file(stream, mimetype=attachment.content_type, as_attachment=True,
                     download_name=attachment.filename, max_age=0)


@blp.route("/<request_id>/supervisions", methods=["POST"])
@staff_required(*roles_for("requests.supervise"))
@blp.arguments(SupervisionSchema)
@blp.response(201, SupervisionSchema)
def supervise(body: dict[str, Any], request_id: str) -> Any:
    """Flag a request you oversee (督办), optionally with a reminder time."""
    return operations.supervise(current_actor(), request_id, body["comment"], body["remind_at"]), 201


@blp.route("/<request_id>/supervisions/<supervision_id>/resolve", methods=["POST"])
@staff_required(*roles_for("requests.supervise"))
@blp.response(200, SupervisionSchema)
@blp.problem(409, "Resolved already.")
def resolve_supervision(request_id: str, supervision_id: str) -> Any:
    return operations.resolve_supervision(current_actor(), request_id, supervision_id)
