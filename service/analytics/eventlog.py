"""The event log for process mining, streamed: XES (IEEE 1849-2016), OCEL 2.0 (JSON) and CSV.

A case is a request, an activity the action taken on it (with the step it led to), the resource the acting
department (or ``resident``/``system``); nothing personal leaves: no comments, no form data, no staff or
resident ids, no request or event ids — requests (the case ids, in all three formats), events and residents
appear only as keyed pseudonyms (HMAC-SHA256), stable within a deployment, so an export cannot be joined back
to the requests a reader knows by number.

Rows come from the database in batches (``yield_per``: a server-side cursor on PostgreSQL) and leave as text
chunks, so memory stays flat however long the log is. The whole export reads one snapshot, without write
intent (SQLite: a deferred read transaction, so writers go on; PostgreSQL: ``REPEATABLE READ READ ONLY``), so
what arrives while it streams is in none of its parts.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

import sqlalchemy as sa
from flask import current_app

from service.accounts.roles import may
from service.analytics.queries import S, _involvement, check_dates
from service.calendar.queries import time_zone
from service.core.auth import Actor
from service.core.db import UTCDateTime, db, read_only_intent
from service.core.errors import Forbidden, ValidationFailed
from service.requests.models import Request, RequestEvent
from service.requests.permissions import visible_department_ids

R = Request.__table__
E = RequestEvent.__table__
BATCH = 2000
FORMATS = {"xes": ("application/xml", "xes"), "ocel": ("application/json", "jsonocel"), "csv": ("text/csv", "csv")}
CSV_HEADER = ("case_id", "activity", "timestamp", "resource", "role", "service", "from_step", "to_step")


@dataclass(frozen=True)
class Export:
    format: str
    mimetype: str
    filename: str
    chunks: Callable[[], Iterator[str]]


@dataclass(frozen=True)
class _Filter:
    service_id: str | None
    start: datetime | None
    end: datetime | None
    departments: frozenset[str] | None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if self.service_id is not None:
            conditions.append(R.c.service_id == self.service_id)
        if self.start is not None:
            conditions.append(R.c.submitted_at >= sa.literal(self.start, UTCDateTime()))
        if self.end is not None:
            conditions.append(R.c.submitted_at < sa.literal(self.end, UTCDateTime()))
        if self.departments is not None:
            involved = _involvement(self.departments)
            conditions.append(R.c.id.in_(sa.select(involved.c.request_id)))
        return conditions


def prepare(actor: Actor, fmt: str, *, service: str | None = None, date_from: date | None = None,
            date_to: date | None = None) -> Export:
    """Check who asks and what for, now (so errors are proper responses); the rows are read when the chunks
    are."""
    if not may(actor, "stats.read"):
        raise Forbidden("The event log is for supervisors and administrators.")
    if fmt not in FORMATS:
        raise ValidationFailed("Unknown format.", errors={"format": [f"One of: {', '.join(FORMATS)}."]})
    check_dates(date_from, date_to)
    with read_only_intent():
        where = _filter(actor, service, date_from, date_to)
    mimetype, extension = FORMATS[fmt]
    writer = {"xes": _xes, "ocel": _ocel, "csv": _csv}[fmt]
    key = _pseudonym_key()
    stamp = "-".join(filter(None, [service, date_from.isoformat() if date_from else None,
                                   date_to.isoformat() if date_to else None]))
    name = f"civicdesk-events{'-' + stamp if stamp else ''}.{extension}"

    def chunks() -> Iterator[str]:
        # a long read must not hold SQLite's write lock, and must read one snapshot: end whatever transaction
        # came before (the checks above, or a caller's with write intent) and begin a read-only one
        with read_only_intent():
            db.session.rollback()
            if db.session.get_bind().dialect.name == "postgresql":
                db.session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            try:
                yield from writer(where, key)
            finally:
                db.session.rollback()

    return Export(fmt, mimetype, name, chunks)


def _filter(actor: Actor, service: str | None, date_from: date | None, date_to: date | None) -> _Filter:
    departments: frozenset[str] | None = None
    if actor.kind != "system" and not actor.has_role("admin"):
        from service.accounts.queries import department_directory

        directory = department_directory()
        departments = frozenset(directory.code_of[i] for i in visible_department_ids(actor) if i in directory.code_of)
    service_id = None
    if service is not None:
        service_id = db.session.execute(sa.select(S.c.id).where(S.c.code == service)).scalar_one_or_none()
        if service_id is None:
            raise ValidationFailed("Unknown service.", errors={"service": ["No such service."]})
    tz = time_zone()
    start = datetime.combine(date_from, time.min, tzinfo=tz) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz) if date_to else None
    return _Filter(service_id, start, end, departments)


def _pseudonym_key() -> bytes:
    configured = str(current_app.config.get("EXPORT_PSEUDONYM_KEY") or "")
    if configured:
        return configured.encode()
    return hmac.new(str(current_app.config["SECRET_KEY"]).encode(), b"civicdesk/event-log/residents",
                    hashlib.sha256).digest()


def pseudonym(key: bytes, resident_id: str, kind: str = "resident") -> str:
    """``kind:`` and 24 hex digits of the keyed hash of the id (residents hash their bare id, as before)."""
    message = resident_id if kind == "resident" else f"{kind}:{resident_id}"
    return f"{kind}:" + hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:24]


def case_id(key: bytes, request_id: str) -> str:
    """The pseudonym of a request: the case id of every format."""
    return pseudonym(key, request_id, "request")


def _stream(stmt: sa.Select[Any]) -> Iterator[sa.Row[Any]]:
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    try:
        yield from result
    finally:
        result.close()


def _events(where: _Filter, *extra: sa.ColumnElement[Any]) -> Iterator[sa.Row[Any]]:
    stmt = (
        sa.select(E.c.id, E.c.request_id, E.c.action, E.c.at, E.c.actor_kind, E.c.actor_department, E.c.from_step,
                  E.c.to_step, S.c.code.label("service"), *extra)
        .join(R, R.c.id == E.c.request_id).join(S, S.c.id == R.c.service_id)
        .where(*where.conditions())
        .order_by(E.c.request_id, E.c.seq)
    )
    return _stream(stmt)


def _resource(row: sa.Row[Any]) -> str:
    return str(row.actor_department) if row.actor_kind == "staff" and row.actor_department else str(row.actor_kind)


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def _batched(parts: Iterator[str], size: int = 500) -> Iterator[str]:
    batch: list[str] = []
    for part in parts:
        batch.append(part)
        if len(batch) >= size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


# --- XES --------------------------------------------------------------------------------------------------

_XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">
<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
<global scope="trace">
<string key="concept:name" value="__INVALID__"/>
</global>
<global scope="event">
<string key="concept:name" value="__INVALID__"/>
<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
<string key="org:resource" value="__INVALID__"/>
<string key="lifecycle:transition" value="complete"/>
</global>
<classifier name="Activity" keys="concept:name"/>
<classifier name="Activity and resource" keys="concept:name org:resource"/>
<string key="concept:name" value="civicdesk requests"/>
"""


def _xes(where: _Filter, key: bytes) -> Iterator[str]:
    yield _XES_HEAD

    def parts() -> Iterator[str]:
        case = None
        for row in _events(where):
            if row.request_id != case:
                if case is not None:
                    yield "</trace>\n"
                case = row.request_id
                yield (f"<trace><string key=\"concept:name\" value={quoteattr(case_id(key, row.request_id))}/>"
                       f"<string key=\"service\" value={quoteattr(row.service)}/>\n")
            from_step = (f"<string key=\"from_step\" value={quoteattr(row.from_step)}/>"
                         if row.from_step else "")
            yield (f"<event><string key=\"concept:name\" value={quoteattr(row.action)}/>"
                   f"<date key=\"time:timestamp\" value=\"{_timestamp(row.at)}\"/>"
                   f"<string key=\"org:resource\" value={quoteattr(_resource(row))}/>"
                   f"<string key=\"org:role\" value={quoteattr(row.actor_kind)}/>"
                   f"<string key=\"lifecycle:transition\" value=\"complete\"/>"
                   f"{from_step}<string key=\"to_step\" value={quoteattr(row.to_step)}/></event>\n")
        if case is not None:
            yield "</trace>\n"

    yield from _batched(parts())
    yield "</log>\n"


# --- CSV --------------------------------------------------------------------------------------------------


def _csv(where: _Filter, key: bytes) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, as the statistics' CSV
    writer.writerow(CSV_HEADER)
    yield buffer.getvalue()

    def parts() -> Iterator[str]:
        for row in _events(where):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow((case_id(key, row.request_id), row.action, _timestamp(row.at), _resource(row),
                             row.actor_kind, row.service, row.from_step or "", row.to_step))
            yield buffer.getvalue()

    yield from _batched(parts())


# --- OCEL 2.0 ---------------------------------------------------------------------------------------------

_EPOCH = "1970-01-01T00:00:00.000+00:00"


def _ocel(where: _Filter, key: bytes) -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    actions = sorted(db.session.execute(
        sa.select(E.c.action).distinct().join(R, R.c.id == E.c.request_id).where(*where.conditions())
    ).scalars())
    object_types = [
        {"name": "request", "attributes": [{"name": "service", "type": "string"},
                                           {"name": "status", "type": "string"}]},
        {"name": "department", "attributes": [{"name": "code", "type": "string"}]},
        {"name": "resident", "attributes": []},
    ]
    event_types = [{"name": action, "attributes": [{"name": "from_step", "type": "string"},
                                                   {"name": "to_step", "type": "string"},
                                                   {"name": "role", "type": "string"}]}
                   for action in actions]
    yield '{"objectTypes":' + dumps(object_types) + ',"eventTypes":' + dumps(event_types) + ',"objects":['

    def objects() -> Iterator[str]:
        first = True
        from service.accounts.models import Department

        for code in db.session.execute(sa.select(Department.code).order_by(Department.code)).scalars():
            yield ("" if first else ",") + dumps({"id": f"department:{code}", "type": "department",
                                                  "attributes": [{"name": "code", "time": _EPOCH, "value": code}]})
            first = False
        residents = (sa.select(R.c.resident_id).distinct().where(*where.conditions()).order_by(R.c.resident_id))
        for resident_id in (row.resident_id for row in _stream(residents)):
            yield "," if not first else ""
            first = False
            yield dumps({"id": pseudonym(key, resident_id), "type": "resident", "attributes": []})
        # the status is stamped with when it was reached: the request's latest event (each step entry sets it)
        latest = sa.select(sa.func.max(E.c.at)).where(E.c.request_id == R.c.id).scalar_subquery()
        requests = (sa.select(R.c.id, R.c.resident_id, R.c.status, R.c.submitted_at, latest.label("status_at"),
                              S.c.code.label("service"))
                    .join(S, S.c.id == R.c.service_id).where(*where.conditions()).order_by(R.c.id))
        for row in _stream(requests):
            yield ("" if first else ",") + dumps({
                "id": case_id(key, row.id), "type": "request",
                "attributes": [{"name": "service", "time": _timestamp(row.submitted_at), "value": row.service},
                               {"name": "status", "time": _timestamp(row.status_at or row.submitted_at),
                                "value": row.status}],
                "relationships": [{"objectId": pseudonym(key, row.resident_id), "qualifier": "applicant"}],
            })
            first = False

    yield from _batched(objects())
    yield '],"events":['

    def events() -> Iterator[str]:
        first = True
        for row in _events(where, R.c.resident_id):
            relationships = [{"objectId": case_id(key, row.request_id), "qualifier": "case"}]
            if row.actor_kind == "staff" and row.actor_department:
                relationships.append({"objectId": f"department:{row.actor_department}", "qualifier": "acted by"})
            elif row.actor_kind == "resident":
                relationships.append({"objectId": pseudonym(key, row.resident_id), "qualifier": "acted by"})
            attributes = [{"name": "to_step", "value": row.to_step}, {"name": "role", "value": row.actor_kind}]
            if row.from_step:
                attributes.insert(0, {"name": "from_step", "value": row.from_step})
            yield ("" if first else ",") + dumps({"id": pseudonym(key, row.id, "event"), "type": row.action,
                                                  "time": _timestamp(row.at), "attributes": attributes,
                                                  "relationships": relationships})
            first = False

    yield from _batched(events())
    yield "]}\n"
