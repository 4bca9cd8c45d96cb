"""The outbox for administrators: messages by status, dead letters first, and sending a dead letter again."""

from __future__ import annotations

from typing import Any

from service.accounts.roles import roles_for
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.pagination import page_schema
from service.notifications import operations, queries
from service.notifications.schemas import OutboxListArgs, OutboxMessageSchema

PREFIX = "/outbox"
blp = Blueprint("console_outbox", __name__, description="Outgoing messages and dead letters (administrators).")


@blp.route("", methods=["GET"])
@staff_required(*roles_for("notifications.manage"))
@blp.arguments(OutboxListArgs, location="query")
@blp.response(200, page_schema(OutboxMessageSchema))
def list_messages(args: dict[str, Any]) -> Any:
    """Messages of a `status` (default `dead`: those given up on), newest first; `?event=` narrows it."""
    return queries.messages_page(args["status"], args["event"], args["cursor"], args["limit"])


@blp.route("/<message_id>/retry", methods=["POST"])
@staff_required(*roles_for("notifications.manage"))
@blp.response(200, OutboxMessageSchema)
@blp.problem(409, "The message is not dead-lettered.")
def retry_message(message_id: str) -> Any:
    """Send a dead-lettered message again, from a fresh count of attempts."""
    return operations.retry_message(current_actor(), message_id)
