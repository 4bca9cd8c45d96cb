"""Schemas of uploads and of attachment metadata."""

from __future__ import annotations

import marshmallow as ma

from service.core.schemas import LocalDateTime


class AttachmentUploadSchema(ma.Schema):
    """``multipart/form-data`` with exactly one file, in the field ``file``."""

    file = ma.fields.Raw(required=True, metadata={
        "type": "string", "format": "binary",
        "description": "The file. Its type is decided by its content: JPEG, PNG or WebP image, PDF, docx, xlsx, "
                       "pptx, doc or xls. At most ATTACHMENT_MAX_BYTES (20 MB by default).",
    })


class AttachmentSchema(ma.Schema):
    """An uploaded file's metadata. ``id`` goes into a submission's ``materials``; only its uploader may use it."""

    id = ma.fields.String(dump_only=True)
    filename = ma.fields.String(dump_only=True, metadata={
        "description": "The name sent, without directories or control characters, at most 120 characters, "
                       "ending with an extension that matches content_type."})
    content_type = ma.fields.String(dump_only=True, metadata={"description": "Detected from the bytes."})
    size = ma.fields.Integer(dump_only=True, metadata={"description": "In bytes."})
    sha256 = ma.fields.String(dump_only=True, metadata={"description": "SHA-256 of the content, hex."})
    created_at = LocalDateTime(dump_only=True)
