"""Query parameters of the statistics and the event log, and the response document of each statistic."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.analytics.queries import (
    FIRST_YEAR,
    GRANULARITIES,
    GROUPS,
    LAST_YEAR,
    MAX_DAILY_RANGE_DAYS,
    MAX_RANGE_DAYS,
    RANK_BY,
    STATISTICS,
    Statistic,
)
from service.core.schemas import LocalDateTime

TABLE_FORMATS = ("json", "csv", "xlsx")
_YEARS = f"Years {FIRST_YEAR} to {LAST_YEAR}."


def _supported(day: Any) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ma.ValidationError(f"Must be a day of the years {FIRST_YEAR} to {LAST_YEAR}.")
EVENT_LOG_FORMATS = ("xes", "ocel", "csv")


class StatsArgs(ma.Schema):
    date_from = ma.fields.Date(required=True, data_key="from", validate=_supported,
                               metadata={"description": f"First local day. {_YEARS}"})
    date_to = ma.fields.Date(required=True, data_key="to", validate=_supported,
                             metadata={"description": f"Last local day (included). {_YEARS}"})
    group = ma.fields.String(load_default="service", validate=ma.validate.OneOf(GROUPS),
                             metadata={"description": "One row per service, per department, or one for all."})
    granularity = ma.fields.String(load_default="day", validate=ma.validate.OneOf(GRANULARITIES),
                                   metadata={"description": "Periods of the throughput: days or weeks."})
    service = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=64),
                               metadata={"description": "Only this service (code)."})
    department = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=64),
                                  metadata={"description": "Only requests of this department and those below it "
                                                           "(code)."})
    rank_by = ma.fields.String(load_default="waiting", validate=ma.validate.OneOf(RANK_BY),
                               metadata={"description": "Bottlenecks only: rank steps by waiting time (on the "
                                                        "resident or a third party), handling time, or all the "
                                                        "time on the step (elapsed)."})
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(TABLE_FORMATS),
                              metadata={"description": "json, or a download: csv (UTF-8) or xlsx."})

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start is None or end is None:
            return
        if end < start:
            raise ma.ValidationError("Must not be before from.", field_name="to")
        days = (end - start).days + 1
        if days > MAX_RANGE_DAYS:
            raise ma.ValidationError(f"A range covers at most {MAX_RANGE_DAYS} days.", field_name="to")
        if data.get("granularity") == "day" and days > MAX_DAILY_RANGE_DAYS:
            raise ma.ValidationError(f"Daily figures cover at most {MAX_DAILY_RANGE_DAYS} days; ask for weeks.",
                                     field_name="to")


class EventLogArgs(ma.Schema):
    format = ma.fields.String(required=True, validate=ma.validate.OneOf(EVENT_LOG_FORMATS),
                              metadata={"description": "xes (IEEE 1849), ocel (OCEL 2.0 JSON) or csv."})
    service = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=64))
    date_from = ma.fields.Date(load_default=None, data_key="from", validate=_supported,
                               metadata={"description": f"Requests submitted on or after this local day. {_YEARS}"})
    date_to = ma.fields.Date(load_default=None, data_key="to", validate=_supported,
                             metadata={"description": f"Requests submitted on or before this local day. {_YEARS}"})

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start is not None and end is not None and end < start:
            raise ma.ValidationError("Must not be before from.", field_name="to")


_FIELDS: dict[str, type[ma.fields.Field[Any]]] = {
    "string": ma.fields.String, "integer": ma.fields.Integer, "number": ma.fields.Float, "date": ma.fields.Date,
}
_result_schemas: dict[str, type[ma.Schema]] = {}


def result_schema(statistic: Statistic) -> type[ma.Schema]:
    """``{statistic, from, to, as_of, group, …, items: [row]}`` with the statistic's columns as the row."""
    if statistic.name not in _result_schemas:
        stem = "".join(part.title() for part in statistic.name.split("-"))
        row = ma.Schema.from_dict(
            {c.name: _FIELDS[c.type](allow_none=True, metadata={"description": c.description})
             for c in statistic.columns}, name=f"{stem}RowSchema")
        _result_schemas[statistic.name] = type(f"{stem}StatisticSchema", (ma.Schema,), {
            "statistic": ma.fields.String(),
            "date_from": ma.fields.Date(data_key="from"),
            "date_to": ma.fields.Date(data_key="to"),
            "as_of": LocalDateTime(metadata={"description": "When figures 'at the end' are taken."}),
            "group": ma.fields.String(),
            "granularity": ma.fields.String(),
            "service": ma.fields.String(allow_none=True),
            "departments": ma.fields.List(ma.fields.String(), allow_none=True,
                                          metadata={"description": "Department codes covered; null: all."}),
            "items": ma.fields.List(ma.fields.Nested(row)),
        })
    return _result_schemas[statistic.name]


for _statistic in STATISTICS.values():
    result_schema(_statistic)
