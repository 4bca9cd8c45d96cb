"""Who may read and change the working-day calendar: ``can_<verb>(actor)``."""

from __future__ import annotations

from service.accounts.roles import may
from service.core.auth import Actor


def can_view_calendar(actor: Actor) -> bool:
    return actor.kind in ("staff", "system")


def can_manage_calendar(actor: Actor) -> bool:
    return may(actor, "calendar.manage")
