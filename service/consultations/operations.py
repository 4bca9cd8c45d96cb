"""State changes of consultations: a resident asks; staff claim, answer, send back and publish as public Q&A.

Each takes the actor, checks permission, appends to the consultation's history, writes the audit record and
flushes. Audit records name the action and the statuses, never the text: questions carry personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app

from service.accounts.queries import department_directory
from service.attachments.queries import own_attachments
from service.calendar.queries import load_calendar, time_zone
from service.consultations.models import Consultation
from service.consultations.permissions import CHECKS, can_view_consultation
from service.consultations.schemas import AnswerDataSchema, NoDataSchema, PublishDataSchema
from service.core import audit, search
from service.core.auth import Actor
from service.core.concurrency import check_version
from service.core.db import db, new_id, utcnow
from service.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, load_action_data
from service.engine.clock import Clock
from service.notifications import outbox
from service.processes.queries import active_version, definition_of

PROCESS_CODE = "consultation"
FAQ_SEARCH_KIND = "faq"  # published Q&A in the full-text index
DEFAULT_WORKING_DAYS = 5

# action -> (statuses it is possible in, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "claim": (frozenset({"submitted"}), "claimed"),
    "answer": (frozenset({"claimed"}), "answered"),
    "send_back": (frozenset({"claimed", "answered"}), "submitted"),
    "publish": (frozenset({"answered"}), "published"),
}
_DATA_SCHEMAS: dict[str, ma.Schema] = {
    "claim": NoDataSchema(),
    "answer": AnswerDataSchema(),
    "send_back": NoDataSchema(),
    "publish": PublishDataSchema(),
}


def time_limit_working_days() -> int:
    """The built-in ``consultation`` process's time limit (its active version), 5 working days without one."""
    try:
        version = active_version(PROCESS_CODE)
    except NotFound:
        return DEFAULT_WORKING_DAYS
    return definition_of(version).time_limit_working_days or DEFAULT_WORKING_DAYS


def _department_id() -> str:
    code = current_app.config["CONSULTATION_DEPARTMENT"]
    directory = department_directory()
    if code not in directory.active_codes:
        raise RuntimeError(f"CONSULTATION_DEPARTMENT {code!r} is not an active department")
    return directory.id_of[code]


def _check_materials(actor: Actor, ids: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(ids))
    if len(own_attachments(actor, wanted)) != len(wanted):
        raise ValidationFailed("Unknown attachment.", errors={"materials": ["Unknown attachment."]})
    return wanted


def _entry(actor: Actor, action: str, at: datetime, from_status: str | None, to_status: str,
           comment: str | None) -> dict[str, Any]:
    return {"action": action, "at": at.isoformat(), "actor_kind": actor.kind, "actor_id": actor.id,
            "from_status": from_status, "to_status": to_status, "comment": comment}


def ask(actor: Actor, question: str, category: str | None, materials: Sequence[str],
        at: datetime | None = None) -> Consultation:
    """A resident's question, for the consultation department to answer within the process's time limit."""
    if actor.kind != "resident":
        raise Forbidden("Only residents ask questions.")
    now = at or utcnow()
    attachments = _check_materials(actor, materials)
    due_at = Clock.start(now, time_limit_working_days()).due_at(load_calendar(), time_zone(), now)
    consultation = Consultation(
        id=new_id(), resident_id=actor.id, department_id=_department_id(), category=category, question=question,
        materials=attachments, status="submitted", asked_at=now, due_at=due_at,
        history=[_entry(actor, "ask", now, None, "submitted", None)],
    )
    db.session.add(consultation)
    db.session.flush()
    audit.record(actor, "consultation.asked", "consultation", consultation.id, {"materials": len(attachments)})
    db.session.flush()
    return consultation


def load_for_update(consultation_id: str) -> Consultation:
    consultation = db.session.execute(
        sa.select(Consultation).where(Consultation.id == consultation_id).with_for_update()
    ).scalar_one_or_none()
    if consultation is None:
        raise NotFound("No such consultation.")
    return consultation


def allowed_actions(actor: Actor, consultation: Consultation) -> list[str]:
    """The actions ``actor`` may take now, in the order of :data:`TRANSITIONS`."""
    return [action for action, (statuses, _to) in TRANSITIONS.items()
            if consultation.status in statuses and CHECKS[action](actor, consultation)]


def _action_data(action: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return load_action_data(_DATA_SCHEMAS[action], data)


def act(actor: Actor, consultation_id: str, action: str, comment: str | None, data: Mapping[str, Any],
        expected_version: int | None, at: datetime | None = None) -> Consultation:
    """Apply one staff action (409 stale version or not possible now, 403 not yours, 422 invalid data)."""
    if action not in TRANSITIONS:
        raise ValidationFailed("Unknown action.", errors={"action": [f"Choose from {', '.join(TRANSITIONS)}."]})
    now = at or utcnow()
    consultation = load_for_update(consultation_id)
    if actor.kind != "staff" or not can_view_consultation(actor, consultation):
        raise Forbidden("This consultation is not with your department.")
    check_version(consultation.version, expected_version)
    statuses, to_status = TRANSITIONS[action]
    if consultation.status not in statuses:
        raise Conflict(f"A consultation that is {consultation.status} cannot be given {action!r}.",
                       allowed_actions=allowed_actions(actor, consultation))
    if not CHECKS[action](actor, consultation):
        raise Forbidden(f"You may not {action.replace('_', ' ')} this consultation.")
    values = _action_data(action, data)
    comment = comment.strip() if comment else None
    if action == "send_back" and not comment:
        raise ValidationFailed("Say why it is sent back.", errors={"comment": ["Required for send_back."]})

    from_status = consultation.status
    entry = _entry(actor, action, now, from_status, to_status, comment)
    if action == "claim":
        consultation.claimed_by = actor.id
    elif action == "answer":
        consultation.answer = values["answer"]
        consultation.answered_at = now
        consultation.answered_by = actor.id
        entry["answer"] = values["answer"]  # a later send_back clears the answer; the history keeps it
    elif action == "send_back":
        consultation.claimed_by = None
        consultation.answer = None
        consultation.answered_at = None
        consultation.answered_by = None
    elif action == "publish":
        consultation.public_question = values["question"]
        consultation.public_answer = values["answer"]
        consultation.published_at = now
        search.index(FAQ_SEARCH_KIND, consultation.id, consultation.public_question, consultation.public_answer)
    consultation.status = to_status
    consultation.history = [*consultation.history, entry]
    consultation.updated_at = now
    audit.record(actor, f"consultation.{action}", "consultation", consultation.id,
                 {"from_status": from_status, "to_status": to_status})
    if action == "answer":
        outbox.on_consultation_answered(consultation)
    db.session.flush()
    return consultation


def reindex_published() -> int:
    """Segment the published Q&A again (after an upgrade of the segmentation); returns how many."""
    published = db.session.execute(sa.select(Consultation).where(Consultation.status == "published")).scalars().all()
    for consultation in published:
        search.index(FAQ_SEARCH_KIND, consultation.id, consultation.public_question, consultation.public_answer)
    return len(published)

