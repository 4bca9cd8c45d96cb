"""Who may do what with a notice: ``can_<verb>(actor, notice)``.

Publishers draft, edit and propose revisions of published notices; the author or a publisher who edited the draft
submits it; reviewers approve (four-eyes: never a text they wrote, edited or submitted; for a revision of a
published notice, never one they edited), reject, publish a scheduled notice early; either may withdraw a public
notice.
"""

from __future__ import annotations

from service.accounts.roles import may, roles_for
from service.core.auth import Actor
from service.notices.models import Notice


def console_roles() -> tuple[str, ...]:
    """The roles that see the notices in the console at all."""
    return tuple(dict.fromkeys((*roles_for("notices.write"), *roles_for("notices.review"))))


def can_view(actor: Actor) -> bool:
    return actor.kind == "system" or (actor.kind == "staff" and actor.has_role(*console_roles()))


def can_create(actor: Actor) -> bool:
    return may(actor, "notices.write")


def can_edit(actor: Actor, notice: Notice) -> bool:
    return may(actor, "notices.write")


def can_submit(actor: Actor, notice: Notice) -> bool:
    """The author, or a publisher who edited the draft (they answer for the text they send to review)."""
    return may(actor, "notices.write") and (actor.kind == "system" or actor.id == notice.author_id
                                            or actor.id in (notice.contributors or []))


def can_approve(actor: Actor, notice: Notice) -> bool:
    """A reviewer who had no hand in the text (四眼原则): for a pending revision of a published notice, in the
    revision."""
    if not may(actor, "notices.review"):
        return False
    if notice.status != "in_review" and notice.pending_revision is not None:
        return actor.id not in notice.pending_revision.get("contributors", [])
    return actor.id not in (notice.contributors or []) and actor.id != notice.author_id


def can_reject(actor: Actor, notice: Notice) -> bool:
    return may(actor, "notices.review")


def can_publish(actor: Actor, notice: Notice) -> bool:
    return may(actor, "notices.review")


def can_withdraw(actor: Actor, notice: Notice) -> bool:
    return may(actor, "notices.write") or may(actor, "notices.review")


CHECKS = {
    "submit": can_submit,
    "approve": can_approve,
    "reject": can_reject,
    "publish": can_publish,
    "withdraw": can_withdraw,
}


def may_review(actor: Actor) -> bool:
    return may(actor, "notices.review")
