"""Statistics for supervisors and administrators (办件统计): JSON, or CSV/XLSX downloads; and the event log for
process mining, streamed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, stream_with_context

from service.accounts.roles import roles_for
from service.analytics import eventlog, queries, tables
from service.analytics.schemas import EventLogArgs, StatsArgs, result_schema
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required

PREFIX = "/stats"
blp = Blueprint("console_stats", __name__,
                description="Statistics per service, department and step; the event log (XES, OCEL 2.0, CSV).")

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_EVENT_LOG_200 = ("The event log, streamed: XES (application/xml), OCEL 2.0 (application/json) or CSV (text/csv, "
                  "RFC 4180 line ends), by `format`.")


def _download(body: bytes, mimetype: str, name: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _statistic_view(statistic: queries.Statistic) -> Callable[..., Any]:
    def view(args: dict[str, Any]) -> Any:
        fmt = args.pop("format")
        result = queries.statistic(current_actor(), statistic.name, **args)
        if fmt == "csv":
            return _download(tables.to_csv(result), "text/csv; charset=utf-8", tables.filename(result, "csv"))
        if fmt == "xlsx":
            return _download(tables.to_xlsx(result), _XLSX, tables.filename(result, "xlsx"))
        return queries.document(result)

    view.__name__ = statistic.name.replace("-", "_")
    view.__doc__ = (f"{statistic.title}: {statistic.description}\n\nSupervisors see the requests of their department "
                    "and those below it; administrators all. `?format=csv|xlsx` downloads the same table.")
    return view


for _statistic in queries.STATISTICS.values():
    blp.route(f"/{_statistic.name}", methods=["GET"])(
        staff_required(*roles_for("stats.read"))(
            blp.arguments(StatsArgs, location="query")(
                blp.response(200, result_schema(_statistic))(
                    blp.problem(403, "Not a supervisor or administrator, or a department outside yours.")(
                        _statistic_view(_statistic))))))


@blp.route("/event-log", methods=["GET"])
@staff_required(*roles_for("stats.read"))
@blp.arguments(EventLogArgs, location="query")
@blp.response(200, description=_EVENT_LOG_200)
@blp.doc(responses={"200": {"description": _EVENT_LOG_200, "content": {
    "application/xml": {"schema": {"type": "string", "description": "format=xes: XES (IEEE 1849-2016)."}},
    "application/json": {"schema": {"type": "string", "description": "format=ocel: OCEL 2.0 JSON."}},
    "text/csv": {"schema": {"type": "string", "description": "format=csv: case_id, activity, timestamp, …"}},
}}})
@blp.problem(403, "Not a supervisor or administrator.")
def event_log(args: dict[str, Any]) -> Response:
    """The event log for process mining, streamed.

    Case = request, activity = action, with the steps, timestamp and the acting department or role; no personal
    data: requests (the case ids), events and residents only as keyed pseudonyms. Supervisors get the requests
    of their subtree. The export reads one snapshot: what arrives while it streams is not in it."""
    export = eventlog.prepare(current_actor(), args["format"], service=args["service"], date_from=args["date_from"],
                              date_to=args["date_to"])
    return Response(stream_with_context(export.chunks()), mimetype=export.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{export.filename}"'})
