"""Who may do what with a notice: ``can_<verb>(actor, notice)``.

Publishers draft, edit, submit and revise published notices; reviewers approve (four-eyes: never a notice they
wrote, edited or submitted), reject, publish a scheduled notice early; either may withdraw a public notice.
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
    return may(actor, "notices.write")


def can_approve(actor: Actor, notice: Notice) -> bool:
    """A reviewer who had no hand in the text (四眼原则)."""
    return may(actor, "notices.review") and actor.id not in (notice.contributors or []) \
        and actor.id != notice.author_id


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
