"""My notifications in the console: deadlines, overdue steps, escalations, supervision (督办), countersigns and
bad ratings, as the worker delivers them."""

from __future__ import annotations

from typing import Any

from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.notifications import operations, queries
from service.notifications.schemas import (
    MarkReadResultSchema,
    MarkReadSchema,
    NotificationListArgs,
    NotificationPageSchema,
)

PREFIX = "/notifications"
blp = Blueprint("console_notifications", __name__, description="Notifications for the signed-in staff member.")


@blp.route("", methods=["GET"])
@staff_required()
@blp.arguments(NotificationListArgs, location="query")
@blp.response(200, NotificationPageSchema)
def list_notifications(args: dict[str, Any]) -> Any:
    """My notifications, newest first (`?unread=true` for the unread ones), with my unread count."""
    actor = current_actor()
    page = queries.notifications_page(actor, args["unread"], args["cursor"], args["limit"])
    return {"items": page.items, "next_cursor": page.next_cursor, "unread": queries.unread_count(actor)}


@blp.route("/read", methods=["POST"])
@staff_required()
@blp.arguments(MarkReadSchema)
@blp.response(200, MarkReadResultSchema)
def mark_read(body: dict[str, Any]) -> Any:
    """Mark my notifications read: those in `ids` (ids that are not mine are ignored), or all of them."""
    return {"marked": operations.mark_read(current_actor(), body["ids"])}
