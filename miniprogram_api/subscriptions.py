"""Subscribe messages (订阅消息): which templates the mini program may offer, and which ones the resident accepted.

Each one-time acceptance allows one message of that template; the messages themselves are sent later.
"""

from __future__ import annotations

from typing import Any

from service.core.api import Blueprint
from service.core.auth import current_actor, resident_required
from service.core.idempotency import idempotent
from service.notifications import operations, queries
from service.notifications.schemas import SubscriptionCreateSchema, SubscriptionResultSchema, TemplateListSchema

PREFIX = ""
blp = Blueprint("mp_subscriptions", __name__, description="Subscribe-message templates and acceptances.")


def _unused(resident_id: str) -> dict[str, int]:
    counts = queries.unused_grants(resident_id)
    return {template.id: counts.get(template.id, 0) for template in queries.templates()}


@blp.route("/subscription-templates", methods=["GET"])
@resident_required
@blp.response(200, TemplateListSchema)
def list_templates() -> Any:
    """The templates to pass to `wx.requestSubscribeMessage`, with how many messages each still allows you."""
    unused = _unused(current_actor().id)
    items = [{"id": t.id, "event": t.event, "title": t.title, "unused": unused[t.id]} for t in queries.templates()]
    return {"items": items, "next_cursor": None}


@blp.route("/subscriptions", methods=["POST"])
@resident_required
@idempotent()
@blp.arguments(SubscriptionCreateSchema)
@blp.response(201, SubscriptionResultSchema)
@blp.problem(422, "`accepted` is missing, empty, or names a template this API does not offer.")
def accept(body: dict[str, Any]) -> Any:
    """Record the templates `wx.requestSubscribeMessage` reported as accepted: each allows one message."""
    actor = current_actor()
    grants = operations.record_acceptances(actor, body["accepted"])
    return {"accepted": [g.template_id for g in grants], "unused": _unused(actor.id)}, 201
