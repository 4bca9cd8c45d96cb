"""Uploading a material (材料): one file, its type decided by its content, owned by the resident who sent it."""

from __future__ import annotations

from typing import Any

from flask import request

from service.attachments import operations
from service.attachments.schemas import AttachmentSchema, AttachmentUploadSchema
from service.core.api import Blueprint, accepts_multipart
from service.core.auth import current_actor, resident_required
from service.core.errors import BadRequest
from service.core.idempotency import idempotent

PREFIX = "/attachments"
FIELD = "file"
blp = Blueprint("mp_attachments", __name__, description="Uploads of materials for requests.")


@blp.route("", methods=["POST"])
@accepts_multipart
@resident_required
@idempotent()
@blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": AttachmentUploadSchema}}})
@blp.response(201, AttachmentSchema)
@blp.problem(400, "No file in the field `file`, or more than one.")
@blp.problem(413, "The file (or the whole body) is too large.")
@blp.problem(415, "The body is not multipart/form-data, or the file's content is not an accepted type.")
@blp.problem(422, "The file is empty.")
def upload() -> Any:
    """Upload one file in the multipart field ``file``; use the returned ``id`` in a submission's ``materials``.

    The type is decided by the bytes, not by the name or the part's Content-Type: JPEG, PNG or WebP images,
    PDF, docx, xlsx, pptx, and legacy doc and xls. Identical content is stored once, but every upload gets its
    own id, usable only by the resident who uploaded it.
    """
    files = request.files.getlist(FIELD)
    if len(files) != 1:
        raise BadRequest("Send exactly one file, in the multipart field `file`.",
                         errors={FIELD: ["Exactly one file is required."]})
    storage = files[0]
    attachment = operations.upload(current_actor(), storage.stream, storage.filename)
    return attachment, 201
