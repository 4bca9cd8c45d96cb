"""Consultations as staff handle them: the department's queue, the detail, and actions (claim, answer,
send back, publish as public Q&A)."""

from __future__ import annotations

from typing import Any

from service.consultations import operations, queries
from service.consultations.schemas import (
    ConsultationActionSchema,
    StaffConsultationSchema,
    StaffConsultationSummarySchema,
    StaffListArgs,
)
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.concurrency import etag_for, expected_version
from service.core.pagination import page_schema

PREFIX = "/consultations"
blp = Blueprint("console_consultations", __name__, description="Consultations: queue, answers, public Q&A.")


def _view(consultation_id: str) -> Any:
    view = queries.staff_view(current_actor(), consultation_id)
    return view, 200, {"ETag": etag_for(view.consultation.version)}


@blp.route("", methods=["GET"])
@staff_required()
@blp.arguments(StaffListArgs, location="query")
@blp.response(200, page_schema(StaffConsultationSummarySchema))
@blp.problem(400, "The cursor is malformed.")
def list_consultations(args: dict[str, Any]) -> Any:
    """Your department's consultations (a publisher's: every department's), the earliest deadline first."""
    return queries.staff_page(current_actor(), args["status"], args["cursor"], args["limit"])


@blp.route("/<consultation_id>", methods=["GET"])
@staff_required()
@blp.response(200, StaffConsultationSchema)
@blp.problem(404, "No such consultation, or not with your department.")
def get_consultation(consultation_id: str) -> Any:
    """The consultation with its history and the actions allowed to you now."""
    return _view(consultation_id)


@blp.route("/<consultation_id>/actions", methods=["POST"])
@staff_required()
@blp.arguments(ConsultationActionSchema)
@blp.response(200, StaffConsultationSchema)
@blp.problem(409, "Stale expected_version, or the action is not possible now (`allowed_actions` lists what is).")
@blp.problem(403, "Not with your department, or the action is not yours to take.")
@blp.problem(404, "No such consultation.")
@blp.problem(422, "Invalid data: `data.answer` for answer, `data.question` and `data.answer` for publish "
                  "(refused while they hold a mobile or ID number), `comment` for send_back.")
def act(body: dict[str, Any], consultation_id: str) -> Any:
    """`claim` (submitted → claimed), `answer` (the claimer or a supervisor: → answered), `send_back`
    (→ submitted, comment required), `publish` (a publisher or a supervisor: answered → published)."""
    operations.act(current_actor(), consultation_id, body["action"], body["comment"], body["data"],
                   expected_version(body["expected_version"]))
    return _view(consultation_id)
