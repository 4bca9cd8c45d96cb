"""Who may manage process definitions."""

from __future__ import annotations

from service.accounts.roles import may
from service.core.auth import Actor


def can_manage_processes(actor: Actor) -> bool:
    return may(actor, "processes.manage")


def can_view_processes(actor: Actor) -> bool:
    return actor.kind in ("staff", "system")
