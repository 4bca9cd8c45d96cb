"""Reads of consultations: the resident's own, the staff queue and detail, and the public Q&A."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.consultations import operations
from service.consultations.models import Consultation
from service.consultations.permissions import can_view_consultation
from service.consultations.schemas import mask_personal_data
from service.core import search
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


@dataclass
class FaqView:
    """A published Q&A entry, with the words of a search highlighted."""

    consultation: Consultation
    words: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.consultation, name)

    @property
    def highlighted_question(self) -> str:
        return search.highlight(mask_personal_data(self.consultation.public_question), self.words)

    @property
    def snippet(self) -> str:
        return search.snippet(mask_personal_data(self.consultation.public_answer), self.words)


def faq_page(q: str | None, category: str | None, cursor: str | None, limit: int | None) -> search.SearchPage:
    """Published Q&A, newest first; with ``q`` (Chinese full-text search of question and answer) the most
    relevant first, with highlights, and a message when nothing was found."""
    stmt = sa.select(Consultation).where(Consultation.status == "published")
    if category is not None:
        stmt = stmt.where(Consultation.category == category)
    if not q:
        page = paginate(stmt, [Consultation.published_at, Consultation.id], cursor=cursor, limit=limit,
                        descending=True)
        return search.SearchPage(items=[FaqView(c) for c in page.items], next_cursor=page.next_cursor)
    query, page = search.ranked(stmt, Consultation.id, operations.FAQ_SEARCH_KIND, q, cursor, limit)
    items = [FaqView(c, query.words) for c in page.items]
    return search.SearchPage(items=items, next_cursor=page.next_cursor, q=q, words=list(query.words),
                             message=None if items or cursor else search.nothing_found(q, "问答"))
