"""Notices as publishers and reviewers handle them: drafts, edits, review (four-eyes), scheduling, publication,
revisions and withdrawal; attachments uploaded for them."""

from __future__ import annotations

from typing import Any

from flask import request

from service.accounts.roles import roles_for
from service.attachments import operations as attachment_operations
from service.attachments.schemas import AttachmentSchema, AttachmentUploadSchema
from service.core.api import Blueprint, accepts_multipart
from service.core.auth import current_actor, staff_required
from service.core.concurrency import etag_for, expected_version
from service.core.errors import BadRequest
from service.core.idempotency import idempotent
from service.core.pagination import page_schema
from service.notices import operations, queries
from service.notices.permissions import console_roles
from service.notices.schemas import (
    NoticeActionSchema,
    NoticeCreateSchema,
    NoticeListArgs,
    NoticeRevisionListArgs,
    NoticeRevisionSchema,
    NoticeUpdateSchema,
    StaffNoticePageSchema,
    StaffNoticeSchema,
)

PREFIX = "/notices"
FIELD = "file"
blp = Blueprint("console_notices", __name__, description="Notices (公告): draft, review, schedule, publish, withdraw.")


def _view(notice_id: str) -> Any:
    view = queries.staff_view(current_actor(), notice_id)
    return view, 200, {"ETag": etag_for(view.notice.version)}


@blp.route("", methods=["GET"])
@staff_required(*console_roles())
@blp.arguments(NoticeListArgs, location="query")
@blp.response(200, StaffNoticePageSchema)
@blp.problem(400, "The cursor is malformed.")
@blp.problem(403, "Neither publisher nor reviewer.")
def list_notices(args: dict[str, Any]) -> Any:
    """Every notice, the last changed first; `q` searches title and body (the most relevant first)."""
    return queries.staff_page(current_actor(), args["status"], args["category"], args["q"], args["cursor"],
                              args["limit"])


@blp.route("", methods=["POST"])
@staff_required(*roles_for("notices.write"))
@idempotent()
@blp.arguments(NoticeCreateSchema)
@blp.response(201, StaffNoticeSchema)
@blp.problem(403, "Not a publisher.")
@blp.problem(422, "Invalid title, body, category, summary or attachments (`errors` names each field).")
def create_notice(body: dict[str, Any]) -> Any:
    """Draft a notice. Submit it for review with the `submit` action."""
    notice = operations.create(current_actor(), body["title"], body["body"], body["category"], body["summary"],
                               body["attachments"])
    view = queries.staff_view(current_actor(), notice.id)
    return view, 201, {"ETag": etag_for(notice.version)}


@blp.route("/attachments", methods=["POST"])
@accepts_multipart
@staff_required(*roles_for("notices.write"))
@idempotent()
@blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": AttachmentUploadSchema}}})
@blp.response(201, AttachmentSchema)
@blp.problem(400, "No file in the field `file`, or more than one.")
@blp.problem(403, "Not a publisher.")
@blp.problem(413, "The file is too large.")
@blp.problem(415, "Not multipart/form-data, or the file's content is not an accepted type.")
def upload_attachment() -> Any:
    """Upload one file (PDF, Office document, image) to attach to a notice by its `id`."""
    files = request.files.getlist(FIELD)
    if len(files) != 1:
        raise BadRequest("Send exactly one file, in the multipart field `file`.",
                         errors={FIELD: ["Exactly one file is required."]})
    return attachment_operations.upload(current_actor(), files[0].stream, files[0].filename), 201


@blp.route("/<notice_id>", methods=["GET"])
@staff_required(*console_roles())
@blp.response(200, StaffNoticeSchema)
@blp.problem(403, "Neither publisher nor reviewer.")
@blp.problem(404, "No such notice.")
def get_notice(notice_id: str) -> Any:
    """The notice with its history and the actions allowed to you now."""
    return _view(notice_id)


@blp.route("/<notice_id>", methods=["PATCH"])
@staff_required(*roles_for("notices.write"))
@blp.arguments(NoticeUpdateSchema)
@blp.response(200, StaffNoticeSchema)
@blp.problem(403, "Not a publisher.")
@blp.problem(404, "No such notice.")
@blp.problem(409, "Stale expected_version, or the notice is under review or scheduled (reject it first).")
@blp.problem(422, "Invalid fields (control characters, unknown attachment, …); `comment` is required for a "
                 "published notice.")
def edit_notice(body: dict[str, Any], notice_id: str) -> Any:
    """Change a draft; or propose a change of a published notice (`comment` required): it waits as
    `pending_revision`, the public reading the published text, until a reviewer who did not edit it approves it
    (then it is published as the next revision) or rejects it."""
    changes = {k: v for k, v in body.items() if k not in ("comment", "expected_version")}
    operations.edit(current_actor(), notice_id, changes, body["comment"], expected_version(body["expected_version"]))
    return _view(notice_id)


@blp.route("/<notice_id>/actions", methods=["POST"])
@staff_required(*console_roles())
@blp.arguments(NoticeActionSchema)
@blp.response(200, StaffNoticeSchema)
@blp.problem(403, "The action is not yours: approving a text you wrote, edited or submitted, submitting a draft "
                 "you neither wrote nor edited, or lacking the role.")
@blp.problem(404, "No such notice.")
@blp.problem(409, "Stale expected_version, or the action is not possible now (`allowed_actions` lists what is).")
@blp.problem(422, "Invalid data (`data.publish_at` in the past), or a missing comment for reject and withdraw.")
def act(body: dict[str, Any], notice_id: str) -> Any:
    """`submit`, `approve` (`data.publish_at` to schedule; on a published notice, its pending revision),
    `reject` (on a published notice, drops its pending revision), `publish`, `withdraw`. A scheduled notice
    whose time has come is published: it can be withdrawn or revised, no longer rejected."""
    operations.act(current_actor(), notice_id, body["action"], body["comment"], body["data"],
                   expected_version(body["expected_version"]))
    return _view(notice_id)


@blp.route("/<notice_id>/revisions", methods=["GET"])
@staff_required(*console_roles())
@blp.arguments(NoticeRevisionListArgs, location="query")
@blp.response(200, page_schema(NoticeRevisionSchema))
@blp.problem(403, "Neither publisher nor reviewer.")
@blp.problem(404, "No such notice.")
def list_revisions(args: dict[str, Any], notice_id: str) -> Any:
    """The text as first published (revision 1) and after each change since, oldest first."""
    return queries.revisions_page(current_actor(), notice_id, args["cursor"], args["limit"])
