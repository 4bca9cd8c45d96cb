"""Reads of consultations: the resident's own, the staff queue and detail, and the public Q&A."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.consultations import operations
from service.consultations.models import Consultation
from service.consultations.permissions import can_view_consultation
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.core.errors import NotFound
from service.core.pagination import Page, paginate

ANSWERED = ("answered", "published")
OPEN = ("submitted", "claimed")


@dataclass
class ResidentConsultationView:
    """A consultation as the resident who asked sees it: the answer only once it is given, no staff at all."""

    consultation: Consultation

    def __getattr__(self, name: str) -> Any:
        return getattr(self.consultation, name)

    @property
    def answer(self) -> str | None:
        return self.consultation.answer if self.consultation.status in ANSWERED else None

    @property
    def answered_at(self) -> datetime | None:
        return self.consultation.answered_at if self.consultation.status in ANSWERED else None

    @property
    def published(self) -> bool:
        return self.consultation.status == "published"


@dataclass
class StaffConsultationView:
    consultation: Consultation
    allowed_actions: list[str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.consultation, name)

    @property
    def overdue(self) -> bool:
        return is_overdue(self.consultation)

    @property
    def history(self) -> list[dict[str, Any]]:
        return [{**entry, "at": datetime.fromisoformat(entry["at"])} for entry in self.consultation.history]


def is_overdue(consultation: Consultation) -> bool:
    return consultation.status in OPEN and consultation.due_at < utcnow()


def _own(actor: Actor, consultation_id: str) -> Consultation:
    consultation = db.session.get(Consultation, consultation_id)
    if consultation is None or actor.kind != "resident" or consultation.resident_id != actor.id:
        raise NotFound("No such consultation.")
    return consultation


def resident_view(actor: Actor, consultation_id: str) -> ResidentConsultationView:
    return ResidentConsultationView(_own(actor, consultation_id))


def resident_page(actor: Actor, status: str | None, cursor: str | None, limit: int | None
                  ) -> Page[ResidentConsultationView]:
    """The resident's consultations, newest first."""
    stmt = sa.select(Consultation).where(Consultation.resident_id == actor.id)
    if status is not None:
        stmt = stmt.where(Consultation.status == status)
    page = paginate(stmt, [Consultation.id], cursor=cursor, limit=limit, descending=True)
    return Page(items=[ResidentConsultationView(c) for c in page.items], next_cursor=page.next_cursor)


def staff_view(actor: Actor, consultation_id: str) -> StaffConsultationView:
    consultation = db.session.get(Consultation, consultation_id)
    if consultation is None or actor.kind != "staff" or not can_view_consultation(actor, consultation):
        raise NotFound("No such consultation.")
    return StaffConsultationView(consultation, operations.allowed_actions(actor, consultation))


def staff_page(actor: Actor, status: str | None, cursor: str | None, limit: int | None
               ) -> Page[StaffConsultationView]:
    """The queue: the consultations of the actor's department (a publisher's: of every department), the
    earliest deadline first."""
    stmt = sa.select(Consultation)
    if not actor.has_role("publisher"):
        stmt = stmt.where(Consultation.department_id == actor.department_id)
    if status is not None:
        stmt = stmt.where(Consultation.status == status)
    page = paginate(stmt, [Consultation.due_at, Consultation.id], cursor=cursor, limit=limit)
    return Page(items=[StaffConsultationView(c, operations.allowed_actions(actor, c)) for c in page.items],
                next_cursor=page.next_cursor)


def faq_page(q: str | None, category: str | None, cursor: str | None, limit: int | None) -> Page[Consultation]:
    """Published Q&A, newest first. ``q`` is a case-insensitive substring match on the public question and
    answer for now; the full-text search of notices will take over when it lands."""
    stmt = sa.select(Consultation).where(Consultation.status == "published")
    if q:
        stmt = stmt.where(sa.or_(Consultation.public_question.icontains(q, autoescape=True),
                                 Consultation.public_answer.icontains(q, autoescape=True)))
    if category is not None:
        stmt = stmt.where(Consultation.category == category)
    return paginate(stmt, [Consultation.published_at, Consultation.id], cursor=cursor, limit=limit, descending=True)
