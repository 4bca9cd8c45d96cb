"""The public Q&A (常见问答): answered questions that staff published, edited free of personal data. No token."""

from __future__ import annotations

from typing import Any

from service.consultations import queries
from service.consultations.schemas import FaqArgs, FaqEntrySchema
from service.core.api import Blueprint
from service.core.search import search_page_schema

PREFIX = "/faq"
blp = Blueprint("mp_faq", __name__, description="Published questions and answers (no token needed).")


@blp.route("", methods=["GET"])
@blp.arguments(FaqArgs, location="query")
@blp.response(200, search_page_schema(FaqEntrySchema, "FaqPageSchema"))
@blp.problem(400, "The cursor is malformed.")
@blp.problem(422, "`q` empty or longer than 100 characters, or an invalid category.")
def list_faq(args: dict[str, Any]) -> Any:
    """Published Q&A, newest first; `category` filters. With `q` (Chinese full-text search), the most relevant
    first with highlights; a query that finds nothing, or has nothing to search for (punctuation or question
    words alone), answers 200 with an empty list and a `message`."""
    return queries.faq_page(args["q"], args["category"], args["cursor"], args["limit"])
