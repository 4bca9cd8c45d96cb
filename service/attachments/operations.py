"""Uploading materials, and checking the materials of a submission against a service's definition.

The type of an upload is decided by its bytes (magic numbers, through the ``filetype`` package), never by its
name or the ``Content-Type`` the client sent. Allowed at all are the types of
:data:`service.catalog.forms.MATERIAL_TYPES`: JPEG, PNG and WebP images, PDF, the Office Open XML documents
(docx, xlsx, pptx) and the legacy Word and Excel formats (doc, xls). Each material of a service narrows this
down with its own ``types`` and ``max_bytes``.

Legacy Office files are OLE2 compound files; ``filetype`` recognises a .doc or .xls by the signature Word and
Excel (and LibreOffice) write at the start of the first stream, which is where those programs put it. A
compound file it does not recognise (a .ppt, a .doc from an unusual writer) is refused with 415: the resident
can save it as PDF or docx. For ZIP-based files the archive's directory decides: an Office Open XML package holds
``[Content_Types].xml`` and the main part of its kind (``word/document.xml``, ``xl/workbook.xml``,
``ppt/presentation.xml``); ``filetype`` alone only looks at the first few entries.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import filetype
from flask import current_app
from werkzeug.datastructures import FileStorage

from service.attachments.models import Attachment
from service.attachments.queries import own_attachments
from service.attachments.storage import storage_for
from service.catalog.forms import MATERIAL_TYPES, REQUIRED_MESSAGE
from service.core import audit
from service.core.auth import Actor
from service.core.db import db
from service.core.errors import Forbidden, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_FILENAME_LENGTH = 120
MAX_FILES_PER_MATERIAL = 20
UNKNOWN_ATTACHMENT = "Unknown attachment {id}."

# Office Open XML: the main part that makes a package a document of each kind.
_OOXML_MAIN_PARTS = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_ZIP = "application/zip"
_READABLE_TYPES = "JPEG, PNG or WebP images, PDF, Word, Excel or PowerPoint (docx, xlsx, pptx) documents"


def max_upload_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _ooxml_type(data: bytes) -> str | None:
    """The Office Open XML type of a ZIP package, from its directory: ``[Content_Types].xml`` and the main part."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    kinds = {mime for part, mime in _OOXML_MAIN_PARTS.items() if part in names}
    return kinds.pop() if len(kinds) == 1 else None


def detect_type(data: bytes) -> str | None:
    """The MIME type the bytes really are, if it is one uploads may have; None otherwise."""
    kind = filetype.guess(data)
    mime = kind.mime if kind is not None else None
    if mime == _ZIP or mime in _OOXML_MAIN_PARTS.values():
        # filetype looks at the first few ZIP entries only (a thumbnail stored first hides the rest); the
        # archive's directory tells for certain, and also refuses a plain ZIP that merely starts with "word/".
        return _ooxml_type(data)
    return mime if mime in MATERIAL_TYPES else None


_UNSAFE_CHARACTERS = {"Cc", "Cf", "Cs", "Co", "Cn"}  # control, format (bidi overrides), surrogates, unassigned


def clean_filename(name: str | None, content_type: str) -> str:
    """A displayable file name: no directories, no control or bidi characters, at most
    :data:`MAX_FILENAME_LENGTH` characters, ending with an extension that matches the detected type."""
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(" " if unicodedata.category(c) in _UNSAFE_CHARACTERS else c for c in text)
    text = re.sub(r"\s+", " ", text).strip().lstrip(".").strip()
    extensions = MATERIAL_TYPES[content_type]
    stem, dot, extension = text.rpartition(".")
    if dot and extension.lower() in extensions:
        suffix = "." + extension.lower()
    else:
        stem, suffix = text, "." + extensions[0]
    stem = stem.strip()[: MAX_FILENAME_LENGTH - len(suffix)].strip() or "attachment"
    return stem + suffix


def upload(actor: Actor, stream: IO[bytes] | FileStorage, filename: str | None) -> Attachment:
    """Store one uploaded file for ``actor`` and return its metadata row (flushed, not committed).

    413 above ``ATTACHMENT_MAX_BYTES``; 415 when the content is not an allowed type, whatever its name says.
    """
    if actor.kind not in ("resident", "staff"):
        raise Forbidden("Only residents and staff upload files.")
    limit = max_upload_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"A file may have at most {limit} bytes.")
    if not data:
        raise ValidationFailed("The file is empty.", errors={"file": ["The file is empty."]})
    content_type = detect_type(data)
    if content_type is None:
        raise UnsupportedMediaType(f"The file's content is not one of the accepted types: {_READABLE_TYPES}.")
    sha256 = storage_for(current_app).put(data)
    attachment = Attachment(owner_kind=actor.kind, owner_id=actor.id, filename=clean_filename(filename, content_type),
                            content_type=content_type, size=len(data), sha256=sha256)
    db.session.add(attachment)
    db.session.flush()
    # Neither the name (it often carries a person's name) nor the content: only what kind of file it was.
    audit.record(actor, "attachment.uploaded", "attachment", attachment.id,
                 {"content_type": content_type, "size": len(data)})
    db.session.flush()
    return attachment


def check_materials(actor: Actor, materials_definition: list[dict[str, Any]],
                    submitted: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Problems of the materials of a submission, keyed ``materials.<key>`` (or ``materials``); empty when fine.

    Each required material has at least one file; keys the service does not define are refused; every id is
    an attachment ``actor`` uploaded (another's and a non-existent id get the same "unknown attachment"
    message, so nothing tells whether someone else's file exists), of one of the material's ``types`` and at
    most its ``max_bytes``.
    """
    if not isinstance(submitted, Mapping):
        return {"materials": ["Must be an object: material key -> list of attachment ids."]}
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(f"materials.{key}", []).append(message)

    definitions = {material["key"]: material for material in materials_definition}
    for key in submitted:
        if key not in definitions:
            add(str(key)[:64], "Unknown material.")
    wanted: dict[str, list[str]] = {}
    for key in definitions:
        ids = submitted.get(key)
        if ids is None:
            ids = []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            add(key, "Must be a list of attachment ids.")
            continue
        if len(ids) > MAX_FILES_PER_MATERIAL:
            add(key, f"At most {MAX_FILES_PER_MATERIAL} files.")
            continue
        if len(set(ids)) != len(ids):
            add(key, "The same attachment is listed twice.")
        wanted[key] = ids
    found = own_attachments(actor, (i for ids in wanted.values() for i in ids))
    for key, ids in wanted.items():
        material = definitions[key]
        if not ids and material.get("required"):
            add(key, REQUIRED_MESSAGE)
        for attachment_id in ids:
            attachment = found.get(attachment_id)
            if attachment is None:
                add(key, UNKNOWN_ATTACHMENT.format(id=attachment_id[:64]))
                continue
            if attachment.content_type not in material["types"]:
                add(key, f"{attachment.id}: a file of type {attachment.content_type} is not accepted here; "
                         f"accepted: {', '.join(material['types'])}.")
            if attachment.size > material["max_bytes"]:
                add(key, f"{attachment.id}: {attachment.size} bytes is more than the {material['max_bytes']} "
                         "allowed here.")
    return errors
