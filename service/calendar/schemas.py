"""Calendar schemas: validation of input and the shapes of output (and of the OpenAPI document)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.calendar.models import KINDS, SOURCES
from service.core.schemas import LocalDateTime

MAX_RANGE_DAYS = 400
MAX_LIMIT_DAYS = 365


class CalendarRangeArgs(ma.Schema):
    start = ma.fields.Date(required=True, data_key="from", metadata={"description": "First day (YYYY-MM-DD)."})
    end = ma.fields.Date(required=True, data_key="to",
                         metadata={"description": f"Last day, included; at most {MAX_RANGE_DAYS} days in all."})

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["end"] < data["start"]:
            raise ma.ValidationError("Must not be before 'from'.", field_name="to")
        if (data["end"] - data["start"]).days + 1 > MAX_RANGE_DAYS:
            raise ma.ValidationError(f"At most {MAX_RANGE_DAYS} days at once.", field_name="to")


class CalendarDaySchema(ma.Schema):
    day = ma.fields.Date()
    is_working_day = ma.fields.Boolean()
    kind = ma.fields.String(allow_none=True, metadata={
        "enum": list(KINDS), "description": "Set only when the day differs from the Mon–Fri rule: holiday "
        "(法定节假日), workday (a weekend day worked, 调休上班) or closure (a local non-working day)."})
    name = ma.fields.String(allow_none=True, metadata={"description": "e.g. 春节, 国庆节, 春节调休上班."})
    source = ma.fields.String(allow_none=True, metadata={
        "enum": list(SOURCES), "description": "official (State Council calendar) or local (set here)."})


class CalendarListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CalendarDaySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, dump_default=None, metadata={
        "description": "Always null: the requested range is the page."})


class CalendarDaySetSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


class DueArgs(ma.Schema):
    received_at = ma.fields.AwareDateTime(required=True, metadata={
        "description": "ISO 8601 with offset; encode '+' as %2B in a query string."})
    days = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=MAX_LIMIT_DAYS),
                             metadata={"description": "The limit in working days."})


class DueSchema(ma.Schema):
    receipt_day = ma.fields.Date(metadata={"description": "The day counting starts from (not itself counted)."})
    due_at = LocalDateTime(metadata={"description": "23:59:59 local time of the last working day."})
