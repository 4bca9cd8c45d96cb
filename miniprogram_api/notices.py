"""Public notices (公告): the published ones, searchable in Chinese, and their attachments. No token."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, send_file

from service.attachments.storage import storage_for
from service.core.api import Blueprint
from service.core.concurrency import etag_for
from service.notices import queries
from service.notices.schemas import PublicListArgs, PublicNoticePageSchema, PublicNoticeSchema

PREFIX = "/notices"
blp = Blueprint("mp_notices", __name__, description="Published notices and their search (no token needed).")


@blp.route("", methods=["GET"])
@blp.arguments(PublicListArgs, location="query")
@blp.response(200, PublicNoticePageSchema)
@blp.problem(400, "The cursor is malformed.")
@blp.problem(422, "Invalid category, or `q` empty or longer than 100 characters.")
def list_notices(args: dict[str, Any]) -> Any:
    """Published notices, newest first. With `q`, the most relevant first, with highlighted titles and
    snippets; a query that finds nothing, or has nothing to search for (punctuation or question words alone),
    answers 200 with an empty list and a `message`."""
    return queries.public_page(args["q"], args["category"], args["cursor"], args["limit"])


@blp.route("/<notice_id>", methods=["GET"])
@blp.response(200, PublicNoticeSchema)
@blp.problem(404, "No such notice (not published yet, or withdrawn before it was).")
@blp.problem(410, "The notice was withdrawn after it had been published.")
def get_notice(notice_id: str) -> Any:
    """One published notice with its attachments and the notes of changes made since publication."""
    view = queries.public_notice(notice_id)
    return view, 200, {"ETag": etag_for(view.notice.version)}


@blp.route("/<notice_id>/attachments/<attachment_id>", methods=["GET"])
@blp.response(200, content_type="application/octet-stream",
              description="The file, with the content type detected when it was uploaded.")
@blp.problem(404, "No such notice or attachment.")
@blp.problem(410, "The notice was withdrawn.")
def download_attachment(notice_id: str, attachment_id: str) -> Response:
    """A file attached to a published notice. `Cache-Control: no-cache`: a cache must ask again each time (a
    conditional request, answered 304 while the file is unchanged), so that a withdrawn notice's files stop
    being served at once."""
    attachment = queries.public_attachment(notice_id, attachment_id)
    stream = storage_for(current_app).open(attachment.sha256)
    response = send_file(stream, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.filename, max_age=0, etag=attachment.sha256)
    response.headers["Cache-Control"] = "no-cache"
    return response
