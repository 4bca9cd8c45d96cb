"""A supervisor's reminders: the requests they flagged (督办) with a time to come back to them."""

from __future__ import annotations

from typing import Any

from service.accounts.roles import roles_for
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.pagination import page_schema
from service.requests import queries
from service.requests.schemas import ReminderArgs, SupervisionSchema

PREFIX = "/supervisions"
blp = Blueprint("console_supervisions", __name__, description="Supervision (督办) reminders.")


@blp.route("", methods=["GET"])
@staff_required(*roles_for("requests.supervise"))
@blp.arguments(ReminderArgs, location="query")
@blp.response(200, page_schema(SupervisionSchema))
def my_reminders(args: dict[str, Any]) -> Any:
    """My open supervisions with a reminder, soonest first (`?due_before=` for those due by then)."""
    return queries.reminders_page(current_actor(), args["due_before"], args["cursor"], args["limit"])
