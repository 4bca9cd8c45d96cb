"""Who may do what with accounts and departments: ``can_<verb>(actor, obj)``."""

from __future__ import annotations

from service.accounts.roles import may
from service.core.auth import Actor


def can_manage_organisation(actor: Actor) -> bool:
    return may(actor, "organisation.manage")


def can_view_organisation(actor: Actor) -> bool:
    return actor.kind in ("staff", "system")


def can_view_audit(actor: Actor) -> bool:
    return may(actor, "audit.read")
