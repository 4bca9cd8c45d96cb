"""The work queue: requests whose current step my department and role handle, sorted by deadline."""

from __future__ import annotations

from typing import Any

from service.accounts.roles import roles_for
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.requests import queries
from service.requests.schemas import TaskArgs, TaskPageSchema

PREFIX = "/tasks"
blp = Blueprint("console_tasks", __name__, description="My work queue.")


@blp.route("", methods=["GET"])
@staff_required(*roles_for("requests.handle"))
@blp.arguments(TaskArgs, location="query")
@blp.response(200, TaskPageSchema)
def list_tasks(args: dict[str, Any]) -> Any:
    """Countersign steps count while my department has yet to sign; `counts` covers the whole queue."""
    cursor, limit = args.pop("cursor"), args.pop("limit")
    return queries.tasks_page(current_actor(), queries.TaskFilters(**args), cursor, limit)
