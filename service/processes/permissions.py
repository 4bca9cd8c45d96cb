"""Who may manage process definitions."""

from __future__ import annotations

from service.core.auth import Actor


def can_manage_processes(actor: Actor) -> bool:
    return actor.kind == "system" or (actor.kind == "staff" and actor.has_role("admin"))


def can_view_processes(actor: Actor) -> bool:
    return actor.kind in ("staff", "system")
