"""The public Q&A (常见问答): answered questions that staff published, edited free of personal data. No token."""

from __future__ import annotations

from typing import Any

from service.consultations import queries
from service.consultations.schemas import FaqArgs, FaqEntrySchema
from service.core.api import Blueprint
from service.core.pagination import page_schema

PREFIX = "/faq"
blp = Blueprint("mp_faq", __name__, description="Published questions and answers (no token needed).")


@blp.route("", methods=["GET"])
@blp.arguments(FaqArgs, location="query")
@blp.response(200, page_schema(FaqEntrySchema))
@blp.problem(400, "The cursor is malformed.")
def list_faq(args: dict[str, Any]) -> Any:
    """Published Q&A, newest first; `q` finds words in the question or the answer, `category` filters."""
    return queries.faq_page(args["q"], args["category"], args["cursor"], args["limit"])
