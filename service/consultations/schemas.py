"""Consultation schemas: what residents send and see, what staff see and send, the public Q&A (常见问答);
and the personal data (phone and ID numbers) that free text may carry, masked wherever it is shown to anyone
but the resident who wrote it."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from service.consultations.models import STATUSES
from service.core.pagination import PageArgs
from service.core.privacy import mask_id_number, mask_phone
from service.core.schemas import LocalDateTime
from service.core.search import no_control_characters

ACTIONS = ("claim", "answer", "send_back", "publish")
MAX_MATERIALS = 20

# A mainland mobile number (optionally +86, digits grouped 3-4-4 with spaces or hyphens) and an 18-character
# resident ID number, neither inside a longer run of digits or letters.
MOBILE_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9A-Za-z])")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
PERSONAL_DATA_MESSAGE = "Remove personal data (mobile or ID numbers) from the public text."


def contains_personal_data(text: str) -> bool:
    return bool(MOBILE_NUMBER.search(text) or ID_NUMBER.search(text))


def _mask_mobile(match: re.Match[str]) -> str:
    return mask_phone(re.sub(r"\D", "", match.group())[-11:]) or ""


def mask_personal_data(text: str | None) -> str | None:
    """``text`` with mobile numbers as ``138****8000`` and ID numbers as ``1101**********002X``."""
    if not text:
        return text
    text = ID_NUMBER.sub(lambda m: mask_id_number(m.group()) or "", text)
    return MOBILE_NUMBER.sub(_mask_mobile, text)


class MaskedText(ma.fields.String):
    """Free text as anyone but its author sees it: phone and ID numbers masked."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return mask_personal_data(super()._serialize(value, attr, obj, **kwargs))


def _stripped(data: Any, *names: str) -> Any:
    if not isinstance(data, dict):
        return data
    return {**data, **{n: data[n].strip() for n in names if isinstance(data.get(n), str)}}


# --- residents -----------------------------------------------------------------------------------------------

class ConsultationCreateSchema(ma.Schema):
    question = ma.fields.String(required=True, validate=[ma.validate.Length(min=2, max=2000), no_control_characters],
                                metadata={"description": "The question, 2 to 2000 characters."})
    category = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=64),
                                metadata={"description": "A topic of the resident's choosing, such as 社保 or 户籍; "
                                                         "the public Q&A can be filtered by it."})
    materials = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=26)), load_default=list,
                               validate=ma.validate.Length(max=MAX_MATERIALS),
                               metadata={"description": "Ids of files uploaded with POST /mp/v1/attachments."})

    @ma.pre_load
    def _normalise(self, data: Any, **_kwargs: Any) -> Any:
        return _stripped(data, "question", "category")


class ConsultationListArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(STATUSES))


class ResidentConsultationSchema(ma.Schema):
    """A consultation as the resident who asked sees it: no staff names; the answer once it is given."""

    id = ma.fields.String()
    question = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    materials = ma.fields.List(ma.fields.String())
    status = ma.fields.String(metadata={"description": "submitted, claimed, answered or published "
                                                       "(answered, and also shown as public Q&A)"})
    answer = ma.fields.String(allow_none=True, metadata={"description": "null until the question is answered"})
    asked_at = LocalDateTime()
    due_at = LocalDateTime(metadata={"description": "When the answer is due (working days)."})
    answered_at = LocalDateTime(allow_none=True)
    published = ma.fields.Boolean(metadata={"description": "Shown (edited, without personal data) as public Q&A."})
    version = ma.fields.Integer()


class ResidentConsultationSummarySchema(ResidentConsultationSchema):
    """An item of the resident's list: phone and ID numbers masked (only the detail view shows them)."""

    question = MaskedText()
    answer = MaskedText(allow_none=True)

    class Meta:
        exclude = ("materials",)


# --- staff ---------------------------------------------------------------------------------------------------

class StaffListArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(STATUSES))


class HistoryEntrySchema(ma.Schema):
    action = ma.fields.String(metadata={"description": "ask, claim, answer, send_back or publish"})
    at = LocalDateTime()
    actor_kind = ma.fields.String()
    actor_id = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    comment = MaskedText(allow_none=True)


class StaffConsultationSummarySchema(ma.Schema):
    """A consultation in the staff queue; phone and ID numbers in the text are masked."""

    id = ma.fields.String()
    department_id = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    question = MaskedText()
    status = ma.fields.String()
    asked_at = LocalDateTime()
    due_at = LocalDateTime()
    overdue = ma.fields.Boolean(metadata={"description": "Past due_at and not answered yet."})
    claimed_by = ma.fields.String(allow_none=True)
    answered_at = LocalDateTime(allow_none=True)
    published_at = LocalDateTime(allow_none=True)
    version = ma.fields.Integer()


class StaffConsultationSchema(StaffConsultationSummarySchema):
    materials = ma.fields.List(ma.fields.String())
    answer = MaskedText(allow_none=True)
    answered_by = ma.fields.String(allow_none=True)
    public_question = MaskedText(allow_none=True)
    public_answer = MaskedText(allow_none=True)
    history = ma.fields.List(ma.fields.Nested(HistoryEntrySchema))
    allowed_actions = ma.fields.List(ma.fields.String(), metadata={"description": "What you may do now."})


class ConsultationActionSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(ACTIONS), metadata={
        "description": "claim; answer (data.answer); send_back (comment required); "
                       "publish (data.question, data.answer: the edited public text)"})
    comment = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4000))
    data = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                                         metadata={"description": "The version you read (or send If-Match)."})


class AnswerDataSchema(ma.Schema):
    answer = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=10000), no_control_characters])

    @ma.pre_load
    def _normalise(self, data: Any, **_kwargs: Any) -> Any:
        return _stripped(data, "answer")


class PublishDataSchema(ma.Schema):
    """The public question and answer, edited so that nobody can be recognised from them."""

    question = ma.fields.String(required=True, validate=[ma.validate.Length(min=2, max=2000), no_control_characters])
    answer = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=10000), no_control_characters])

    @ma.pre_load
    def _normalise(self, data: Any, **_kwargs: Any) -> Any:
        return _stripped(data, "question", "answer")

    @ma.validates("question", "answer")
    def _no_personal_data(self, value: str, **_kwargs: Any) -> None:
        if contains_personal_data(value):
            raise ma.ValidationError(PERSONAL_DATA_MESSAGE)


class NoDataSchema(ma.Schema):
    """Actions that take no data."""


# --- public Q&A ----------------------------------------------------------------------------------------------

class FaqArgs(PageArgs):
    q = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=100), metadata={
        "description": "Chinese full-text search of question and answer: words need no spaces, two-character "
                       "words (路灯, 噪音) and Latin words or numbers are found; every word must occur; the most "
                       "relevant first."})
    category = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=64))


class FaqEntrySchema(ma.Schema):
    id = ma.fields.String()
    question = MaskedText(attribute="public_question")
    answer = MaskedText(attribute="public_answer")
    category = ma.fields.String(allow_none=True)
    published_at = LocalDateTime()
    highlighted_question = ma.fields.String(metadata={
        "description": "HTML: the question escaped, the words of `q` in <mark>…</mark>."})
    snippet = ma.fields.String(metadata={
        "description": "HTML: part of the answer (around the best match of `q`), escaped, matches in <mark>."})
