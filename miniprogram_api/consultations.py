"""A resident's consultations (咨询): ask a question (with materials), list mine, read the answer."""

from __future__ import annotations

from typing import Any

from service.consultations import operations, queries
from service.consultations.schemas import (
    ConsultationCreateSchema,
    ConsultationListArgs,
    ResidentConsultationSchema,
    ResidentConsultationSummarySchema,
)
from service.core.api import Blueprint
from service.core.auth import current_actor, resident_required
from service.core.concurrency import etag_for
from service.core.idempotency import idempotent
from service.core.pagination import page_schema

PREFIX = "/consultations"
blp = Blueprint("mp_consultations", __name__, description="The resident's questions and their answers (咨询).")


@blp.route("", methods=["POST"])
@resident_required
@idempotent()
@blp.arguments(ConsultationCreateSchema)
@blp.response(201, ResidentConsultationSchema)
@blp.problem(422, "Invalid question, category or materials (`errors` names each field); "
                  "a material that is not one of your uploads is an unknown attachment.")
def ask(body: dict[str, Any]) -> Any:
    """Ask a question. The service centre answers it within the time limit shown as `due_at`."""
    consultation = operations.ask(current_actor(), body["question"], body["category"], body["materials"])
    view = queries.resident_view(current_actor(), consultation.id)
    return view, 201, {"ETag": etag_for(consultation.version)}


@blp.route("", methods=["GET"])
@resident_required
@blp.arguments(ConsultationListArgs, location="query")
@blp.response(200, page_schema(ResidentConsultationSummarySchema))
@blp.problem(400, "The cursor is malformed.")
def list_consultations(args: dict[str, Any]) -> Any:
    """My questions, newest first; phone and ID numbers in the text are masked (the detail shows them)."""
    return queries.resident_page(current_actor(), args["status"], args["cursor"], args["limit"])


@blp.route("/<consultation_id>", methods=["GET"])
@resident_required
@blp.response(200, ResidentConsultationSchema)
@blp.problem(404, "No such consultation, or not yours.")
def get_consultation(consultation_id: str) -> Any:
    """One of my questions with its answer, once it is answered."""
    view = queries.resident_view(current_actor(), consultation_id)
    return view, 200, {"ETag": etag_for(view.consultation.version)}
