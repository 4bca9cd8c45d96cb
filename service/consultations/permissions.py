"""Who may see a consultation and who may take each action on it: ``can_<verb>(actor, consultation)``.

The department a consultation is with handles it (handlers and supervisors); publishers of any department
publish answered questions as public Q&A, and so may a supervisor of the department.
"""

from __future__ import annotations

from service.accounts.roles import may
from service.consultations.models import Consultation
from service.core.auth import Actor


def _of_department(actor: Actor, consultation: Consultation) -> bool:
    return actor.kind == "staff" and actor.department_id == consultation.department_id


def _supervises(actor: Actor, consultation: Consultation) -> bool:
    return _of_department(actor, consultation) and actor.has_role("supervisor")


def _publisher(actor: Actor) -> bool:
    return actor.kind == "staff" and actor.has_role("publisher")


def can_view_consultation(actor: Actor, consultation: Consultation) -> bool:
    """The resident who asked; staff of its department; publishers (they choose what becomes public Q&A)."""
    if actor.kind == "resident":
        return consultation.resident_id == actor.id
    if actor.kind == "system":
        return True
    return _of_department(actor, consultation) or _publisher(actor)


def can_claim(actor: Actor, consultation: Consultation) -> bool:
    return _of_department(actor, consultation) and may(actor, "consultations.handle")


def can_answer(actor: Actor, consultation: Consultation) -> bool:
    claimer = actor.kind == "staff" and consultation.claimed_by == actor.id
    return claimer or _supervises(actor, consultation)


def can_send_back(actor: Actor, consultation: Consultation) -> bool:
    """The claimer gives it up, a supervisor takes it back; a publisher returns an answer unfit to publish."""
    if can_answer(actor, consultation):
        return True
    return consultation.status == "answered" and _publisher(actor)


def can_publish(actor: Actor, consultation: Consultation) -> bool:
    # a publisher of any department, a supervisor of the consultation's own
    return may(actor, "consultations.publish") and (_publisher(actor) or _of_department(actor, consultation))


CHECKS = {
    "claim": can_claim,
    "answer": can_answer,
    "send_back": can_send_back,
    "publish": can_publish,
}
