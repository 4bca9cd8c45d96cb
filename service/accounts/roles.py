"""The role × permission matrix: the one place that says which staff role may do what.

Every console endpoint and domain permission check reads it (``roles_for`` in the endpoints' decorators,
``may`` in the domain's ``can_<verb>`` functions). Engine actions are decided by the process definitions,
which name the role each step needs.
"""

from __future__ import annotations

from service.core.auth import Actor

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "organisation.manage": ("admin",),  # departments, staff accounts and their roles
    "catalog.manage": ("admin",),  # services, their forms and materials
    "processes.manage": ("admin",),  # upload, activate, migrate process definitions
    "calendar.manage": ("admin",),  # holidays, make-up days, local closures
    "audit.read": ("admin",),
    "requests.handle": ("handler", "supervisor"),  # work queue, search, notes, follow-ups of bad ratings
    "requests.oversee_subtree": ("supervisor",),  # also see the requests of the departments below
    "requests.supervise": ("supervisor",),  # flag a request (督办) and set a reminder
    "stats.read": ("supervisor", "admin"),  # statistics and the event log: a supervisor's of their subtree
    "consultations.handle": ("handler", "supervisor"),  # claim, answer, send back
    "consultations.publish": ("publisher", "supervisor"),  # publish as public Q&A
    "notifications.manage": ("admin",),  # the outbox: list dead-lettered messages and send them again
    "notices.write": ("publisher",),  # draft, edit, submit, revise published notices, withdraw
    "notices.review": ("reviewer",),  # approve others' notices (four-eyes), reject, publish now, withdraw
}


def roles_for(permission: str) -> tuple[str, ...]:
    return PERMISSIONS[permission]


def may(actor: Actor, permission: str) -> bool:
    if actor.kind == "system":
        return True
    return actor.kind == "staff" and actor.has_role(*PERMISSIONS[permission])
