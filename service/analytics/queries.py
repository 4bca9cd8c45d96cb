"""Statistics of how services and departments perform (办件统计), each computed in SQL over the request and
event tables, so the database aggregates and only the figures reach Python.

Every statistic is a table: one row per group (a service, a department, or ``all``) — per step where it is
about steps — for a range of local days ``[from, to]``. Figures "as of" the range are taken at ``as_of``, the end
of the range or now if that is earlier.

Definitions, shared with :mod:`service.engine.timing` so that the SQL agrees with it:

- a *visit* is one stay of a request on a step: it begins with the event that enters the step (the first
  event, an event whose ``to_step`` differs from the one before, or a ``reopen``) and ends with the next such
  event; staying actions (claim, transfer, countersign, …) do not end it; terminal steps have no visits;
- a visit is *waiting* on the resident on a resident step, on a third party on a step whose clock is
  excluded, and *handling* otherwise;
- a request *belongs to* a department that acted on it (an event by its staff) or is expected to act on it
  now — the same rule as who may see it;
- durations are elapsed time; percentiles are by nearest rank (the p-th of n values is the ⌈p·n⌉-th smallest);
- a deadline ends at 23:59:59 local time, and each local day begun after it is one day overdue (calendar days,
  not the engine's working days: hence the ``_calendar_days`` columns);
- a *decision* is an arrival on a terminal step, read from the events (completions, cycle times, decided late,
  ratings), so a past range keeps its decisions whatever happened since; the time limit (``due_at``) and a
  step's own limit are the request's as they stand now (README: what is "as of now");
- *waiting time* is time on resident and third-party steps, *handling time* the rest; bottlenecks rank by
  waiting time unless ``rank_by`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from service.accounts.models import Department
from service.accounts.queries import department_directory
from service.accounts.roles import may
from service.analytics.sql import days_late, percentiles, seconds_between
from service.calendar.queries import time_zone
from service.catalog.models import Service
from service.core.auth import Actor
from service.core.db import UTCDateTime, db, utcnow
from service.core.errors import Forbidden, ValidationFailed
from service.processes.models import ProcessVersion
from service.processes.queries import definition_by_id
from service.requests.models import Rating, Request, RequestAssignee, RequestEvent
from service.requests.permissions import visible_department_ids

GROUPS = ("service", "department", "all")
GRANULARITIES = ("day", "week")
RANK_BY = ("waiting", "handling", "elapsed")
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_RANGE_DAYS = 731
MAX_DAILY_RANGE_DAYS = 366
REWORK_ACTIONS = {"request_materials": "supplement_rounds", "send_back": "send_backs", "transfer": "transfers",
                  "reopen": "reopens"}

R = Request.__table__
E = RequestEvent.__table__
A = RequestAssignee.__table__
S = Service.__table__
D = Department.__table__
RT = Rating.__table__


@dataclass(frozen=True)
class Scope:
    """What a statistic covers: the local days, the grouping, and the departments the reader may see."""

    date_from: date
    date_to: date
    start: datetime  # local midnight starting date_from
    end: datetime  # local midnight after date_to (exclusive)
    as_of: datetime  # min(end, now)
    group: str = "service"
    granularity: str = "day"
    service: str | None = None  # service code
    departments: frozenset[str] | None = None  # department codes; None: every department
    rank_by: str = "waiting"  # bottlenecks: waiting, handling or elapsed


def scope_for(actor: Actor, date_from: date, date_to: date, *, group: str = "service", granularity: str = "day",
              service: str | None = None, department: str | None = None, now: datetime | None = None,
              rank_by: str = "waiting") -> Scope:
    """The scope ``actor`` may read: administrators every department; a supervisor their department and those
    below it (403 when ``department`` lies outside)."""
    if not may(actor, "stats.read"):
        raise Forbidden("Statistics are for supervisors and administrators.")
    check_dates(date_from, date_to)
    if date_to < date_from:
        raise ValidationFailed("Invalid range.", errors={"to": ["Must not be before from."]})
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed("Invalid range.", errors={"to": [f"A range covers at most {MAX_RANGE_DAYS} days."]})
    directory = department_directory()
    allowed: set[str] | None = None
    if actor.kind != "system" and not actor.has_role("admin"):
        allowed = {directory.code_of[i] for i in visible_department_ids(actor) if i in directory.code_of}
    codes = allowed
    if department is not None:
        department_id = directory.id_of.get(department)
        if department_id is None:
            raise ValidationFailed("Unknown department.", errors={"department": ["No such department."]})
        codes = {directory.code_of[i] for i in directory.subtree(department_id)}
        if allowed is not None and not codes <= allowed:
            raise Forbidden("That department is outside the ones you oversee.")
    if service is not None and db.session.execute(sa.select(S.c.id).where(S.c.code == service)).first() is None:
        raise ValidationFailed("Unknown service.", errors={"service": ["No such service."]})
    tz = time_zone()
    start = datetime.combine(date_from, time.min, tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    return Scope(date_from=date_from, date_to=date_to, start=start, end=end, as_of=min(end, now or utcnow()),
                 group=group, granularity=granularity, service=service,
                 departments=frozenset(codes) if codes is not None else None, rank_by=rank_by)


def check_dates(date_from: date | None, date_to: date | None) -> None:
    """Days between the years FIRST_YEAR and LAST_YEAR, ``from`` not after ``to``: a 422, not a 500 from a
    date arithmetic overflow or a database that cannot store the instant."""
    errors: dict[str, list[str]] = {}
    for name, day in (("from", date_from), ("to", date_to)):
        if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
            errors[name] = [f"Must be a day of the years {FIRST_YEAR} to {LAST_YEAR}."]
    if not errors and date_from is not None and date_to is not None and date_to < date_from:
        errors["to"] = ["Must not be before from."]
    if errors:
        raise ValidationFailed("Invalid dates.", errors=errors)


# --- what each statistic is -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, integer, number, date
    description: str


@dataclass(frozen=True)
class Statistic:
    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    compute: Callable[[Scope], list[dict[str, Any]]] = field(repr=False)


@dataclass(frozen=True)
class Result:
    statistic: Statistic
    scope: Scope
    rows: list[dict[str, Any]]


_GROUP = Column("group", "string", "The service code, department code, or `all`.")
_SERVICE = Column("service", "string", "The service code.")
_STEP = Column("step", "string", "The step key in the service's process.")
_KIND = Column("kind", "string", "handling, resident (waiting on the resident) or third_party.")


def _h(name: str, description: str) -> Column:
    return Column(name, "number", f"{description} (hours).")


def _i(name: str, description: str) -> Column:
    return Column(name, "integer", description)


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 2)


def _int(value: Any) -> int:
    return int(value or 0)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- the building blocks --------------------------------------------------------------------------------------


def _involvement(codes: Iterable[str] | None) -> sa.Subquery:
    """(request_id, department): the departments each request belongs to."""
    by_events = sa.select(E.c.request_id, E.c.actor_department.label("department")).where(
        E.c.actor_kind == "staff", E.c.actor_department.is_not(None))
    by_assignees = (sa.select(A.c.request_id, D.c.code.label("department"))
                    .join(D, D.c.id == A.c.department_id))
    if codes is not None:
        wanted = sorted(codes)
        by_events = by_events.where(E.c.actor_department.in_(wanted))
        by_assignees = by_assignees.where(D.c.code.in_(wanted))
    return sa.union(by_events, by_assignees).subquery("involvement")


def _scope_conditions(scope: Scope, request_id: sa.ColumnElement[str]) -> list[sa.ColumnElement[bool]]:
    """Conditions on the requests table (joined as ``R``) that keep the requests in scope."""
    conditions: list[sa.ColumnElement[bool]] = []
    if scope.service is not None:
        conditions.append(R.c.service_id == sa.select(S.c.id).where(S.c.code == scope.service).scalar_subquery())
    if scope.departments is not None and scope.group != "department":
        involved = _involvement(scope.departments)
        conditions.append(request_id.in_(sa.select(involved.c.request_id)))
    return conditions


def _department_codes(codes: Iterable[str] | None) -> sa.Subquery:
    """(code): the departments a request may belong to — ``codes``, or every department and every department
    code staff acted under (a handful of rows)."""
    if codes is not None:
        selects = [sa.select(sa.literal(code, sa.String()).label("code")) for code in sorted(codes)]
        if not selects:
            return sa.select(D.c.code).where(sa.false()).subquery("department_codes")
        return (sa.union_all(*selects) if len(selects) > 1 else selects[0]).subquery("department_codes")
    acted = sa.select(E.c.actor_department.label("code")).where(E.c.actor_kind == "staff",
                                                                E.c.actor_department.is_not(None))
    return sa.union(sa.select(D.c.code), acted).subquery("department_codes")


def _cases(scope: Scope) -> sa.Subquery:
    """(request_id, grp): each request in scope with its group (a request may be in several departments)."""
    if scope.group == "department":
        # The pairs of :func:`_involvement`, written as a plain join of the requests with the (few) departments
        # and two lookups by index, rather than a UNION: a UNION is materialised without an index, and joining
        # the visits to it scanned it once per visit (quadratic on SQLite); this one the planner can flatten.
        wanted = _department_codes(scope.departments)
        acted = sa.exists().where(E.c.request_id == R.c.id, E.c.actor_department == wanted.c.code,
                                  E.c.actor_kind == "staff")
        assigned = sa.exists().where(A.c.request_id == R.c.id, A.c.department_id == D.c.id, D.c.code == wanted.c.code)
        stmt = (sa.select(R.c.id.label("request_id"), wanted.c.code.label("grp")).select_from(R)
                .join(wanted, sa.true()).where(sa.or_(acted, assigned), *_scope_conditions(scope, R.c.id)))
        return stmt.subquery("cases")
    label = S.c.code if scope.group == "service" else sa.literal("all", sa.String())
    stmt = (sa.select(R.c.id.label("request_id"), label.label("grp")).join(S, S.c.id == R.c.service_id)
            .where(*_scope_conditions(scope, R.c.id)))
    return stmt.subquery("cases")


def _step_kind(version: sa.ColumnElement[str], step: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """terminal, resident, third_party or handling, by the definition of the request's process version."""
    whens: list[tuple[sa.ColumnElement[bool], str]] = []
    for version_id in db.session.execute(sa.select(ProcessVersion.id).order_by(ProcessVersion.id)).scalars():
        definition = definition_by_id(version_id)
        by_kind: dict[str, list[str]] = {"terminal": [], "resident": [], "third_party": []}
        for key, spec in definition.steps.items():
            if spec.terminal:
                by_kind["terminal"].append(key)
            elif spec.kind == "resident":
                by_kind["resident"].append(key)
            elif spec.clock == "excluded":
                by_kind["third_party"].append(key)
        for kind, steps in by_kind.items():
            if steps:
                whens.append((sa.and_(version == version_id, step.in_(sorted(steps))), kind))
    if not whens:
        return sa.literal("handling", sa.String())
    return sa.case(*whens, else_="handling")


def _outcome(version: sa.ColumnElement[str], step: sa.ColumnElement[str]) -> sa.ColumnElement[Any]:
    """completed, rejected or withdrawn for a terminal step of the request's process version; null otherwise."""
    whens: list[tuple[sa.ColumnElement[bool], str]] = []
    for version_id in db.session.execute(sa.select(ProcessVersion.id).order_by(ProcessVersion.id)).scalars():
        by_outcome: dict[str, list[str]] = {}
        for key, spec in definition_by_id(version_id).steps.items():
            if spec.terminal:
                by_outcome.setdefault(spec.outcome or "completed", []).append(key)
        for outcome, steps in sorted(by_outcome.items()):
            whens.append((sa.and_(version == version_id, step.in_(sorted(steps))), outcome))
    if not whens:
        return sa.null()
    return sa.case(*whens, else_=sa.null())


def _visits(scope: Scope) -> sa.Subquery:
    """One row per visit of a request in scope whose life overlaps the range (terminal steps included, as
    kind ``terminal`` with their ``outcome``): request_id, service, step, kind, outcome, entered_at, left_at
    (null while it stands there)."""
    # the requests first, then their events by the (request_id, seq) index: a range of a few months reads the
    # events of those requests only, already in the order the window functions need
    live = sa.select(R.c.id).where(
        R.c.submitted_at < _at(scope.as_of), sa.or_(R.c.closed_at.is_(None), R.c.closed_at >= _at(scope.start)),
        *_scope_conditions(scope, R.c.id))
    lagged = (
        sa.select(E.c.request_id, E.c.seq, E.c.at, E.c.to_step, E.c.action,
                  sa.func.lag(E.c.to_step).over(partition_by=E.c.request_id, order_by=E.c.seq).label("previous"))
        .where(E.c.request_id.in_(live))
    ).subquery("lagged")
    starts = (
        sa.select(lagged.c.request_id, lagged.c.seq, lagged.c.to_step.label("step"), lagged.c.at.label("entered_at"),
                  sa.func.lead(lagged.c.at).over(partition_by=lagged.c.request_id,
                                                 order_by=lagged.c.seq).label("left_at"))
        .where(sa.or_(lagged.c.previous.is_(None), lagged.c.previous != lagged.c.to_step,
                      lagged.c.action == "reopen"))
    ).subquery("starts")
    return (
        sa.select(starts.c.request_id, starts.c.seq, S.c.code.label("service"), starts.c.step,
                  _step_kind(R.c.process_version_id, starts.c.step).label("kind"),
                  _outcome(R.c.process_version_id, starts.c.step).label("outcome"), starts.c.entered_at,
                  starts.c.left_at, R.c.due_at, R.c.step_due_at)
        .join(R, R.c.id == starts.c.request_id).join(S, S.c.id == R.c.service_id)
    ).subquery("visits")


def _at(instant: datetime) -> sa.BindParameter[datetime]:
    return sa.literal(instant, UTCDateTime())


def _ended(visits: sa.Subquery, scope: Scope) -> sa.ColumnElement[bool]:
    return sa.and_(visits.c.kind != "terminal", visits.c.left_at >= _at(scope.start),
                   visits.c.left_at < _at(scope.as_of))


def _open(visits: sa.Subquery, scope: Scope) -> sa.ColumnElement[bool]:
    return sa.and_(visits.c.kind != "terminal", visits.c.entered_at < _at(scope.as_of),
                   sa.or_(visits.c.left_at.is_(None), visits.c.left_at >= _at(scope.as_of)))


def _decisions(scope: Scope, outcomes: tuple[str, ...] = ("completed", "rejected")) -> sa.Subquery:
    """One row per arrival of a request in scope on a terminal step within the range, taken from the events
    (so a request reopened since still counts where it was decided): request_id, outcome, decided_at,
    submitted_at, due_at (the request's time limit as it stands now), and the seconds of ``handling``,
    ``resident`` and ``third_party`` visits before it (running sums in one pass over the visits; a request
    reopened and decided again counts its history up to each decision)."""
    visits = _visits(scope)
    seconds = seconds_between(visits.c.entered_at, visits.c.left_at)

    def before(kind: str) -> sa.ColumnElement[float]:
        return sa.func.sum(sa.case((visits.c.kind == kind, seconds), else_=0.0)).over(
            partition_by=visits.c.request_id, order_by=visits.c.seq, rows=(None, 0)).label(kind)

    running = sa.select(visits.c.request_id, visits.c.kind, visits.c.outcome, visits.c.entered_at,
                        before("handling"), before("resident"), before("third_party")).subquery("running")
    return (
        sa.select(running.c.request_id, running.c.outcome, running.c.entered_at.label("decided_at"),
                  R.c.submitted_at, R.c.due_at, running.c.handling, running.c.resident, running.c.third_party)
        .join(R, R.c.id == running.c.request_id)
        .where(running.c.kind == "terminal", running.c.outcome.in_(outcomes),
               running.c.entered_at >= _at(scope.start), running.c.entered_at < _at(scope.as_of))
    ).subquery("decisions")


def _rows(stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
    return list(db.session.execute(stmt).all())


def _keyed(rows: Iterable[sa.Row[Any]], width: int) -> dict[tuple[Any, ...], sa.Row[Any]]:
    return {tuple(row[:width]): row for row in rows}


# --- the statistics -------------------------------------------------------------------------------------------


def _backlog(scope: Scope) -> list[dict[str, Any]]:
    visits, cases = _visits(scope), _cases(scope)
    open_visits = (
        sa.select(cases.c.grp, visits.c.kind, visits.c.due_at,
                  seconds_between(R.c.submitted_at, _at(scope.as_of)).label("age"))
        .join(cases, cases.c.request_id == visits.c.request_id).join(R, R.c.id == visits.c.request_id)
        .where(_open(visits, scope))
    ).subquery("open_visits")

    def counts(ranked: sa.Subquery) -> list[sa.ColumnElement[Any]]:
        return [sa.func.count(sa.case((ranked.c.kind == "resident", 1))).label("resident"),
                sa.func.count(sa.case((ranked.c.kind == "third_party", 1))).label("third_party"),
                sa.func.count(sa.case((sa.and_(ranked.c.kind == "handling", ranked.c.due_at < _at(scope.as_of)),
                                       1))).label("overdue")]

    rows = _keyed(_rows(percentiles(open_visits, "age", ["grp"], counts)), 1)
    return [{"group": key[0], "open": _int(row.n), "awaiting_resident": _int(row.resident),
             "with_third_party": _int(row.third_party), "overdue": _int(row.overdue),
             "median_age_hours": _hours(row.median), "p90_age_hours": _hours(row.p90)}
            for key, row in sorted(rows.items())]


def _periods(scope: Scope) -> list[tuple[date, datetime, datetime]]:
    tz = scope.start.tzinfo
    first = scope.date_from if scope.granularity == "day" else scope.date_from - timedelta(
        days=scope.date_from.weekday())
    step = timedelta(days=1 if scope.granularity == "day" else 7)
    periods = []
    day = first
    while day <= scope.date_to:
        lo = max(scope.start, datetime.combine(day, time.min, tzinfo=tz))
        hi = min(scope.end, datetime.combine(day + step, time.min, tzinfo=tz))
        periods.append((day, lo, hi))
        day += step
    return periods


def _throughput(scope: Scope) -> list[dict[str, Any]]:
    periods = _periods(scope)
    selects = [sa.select(sa.literal(i, sa.Integer()).label("idx"), _at(lo).label("lo"), _at(hi).label("hi"))
               for i, (_day, lo, hi) in enumerate(periods)]
    buckets = (sa.union_all(*selects) if len(selects) > 1 else selects[0]).subquery("buckets")
    cases = _cases(scope)
    arrivals = _keyed(_rows(
        sa.select(buckets.c.idx, cases.c.grp, sa.func.count().label("n")).select_from(buckets)
        .join(R, sa.and_(R.c.submitted_at >= buckets.c.lo, R.c.submitted_at < buckets.c.hi))
        .join(cases, cases.c.request_id == R.c.id).group_by(buckets.c.idx, cases.c.grp)), 2)
    decided = _decisions(scope, ("completed", "rejected", "withdrawn"))
    closures = _keyed(_rows(
        sa.select(buckets.c.idx, cases.c.grp, sa.func.count().label("n"),
                  sa.func.count(sa.case((decided.c.outcome == "completed", 1))).label("completed"))
        .select_from(buckets)
        .join(decided, sa.and_(decided.c.decided_at >= buckets.c.lo, decided.c.decided_at < buckets.c.hi))
        .join(cases, cases.c.request_id == decided.c.request_id).group_by(buckets.c.idx, cases.c.grp)), 2)
    groups = sorted({key[1] for key in (*arrivals, *closures)})
    rows = []
    for group in groups:
        for i, (day, _lo, _hi) in enumerate(periods):
            arrived, closed = arrivals.get((i, group)), closures.get((i, group))
            rows.append({"group": group, "period": day, "arrivals": _int(arrived.n if arrived else 0),
                         "completions": _int(closed.completed if closed else 0),
                         "closures": _int(closed.n if closed else 0)})
    return rows


def _cycle_times(scope: Scope) -> list[dict[str, Any]]:
    cases = _cases(scope)
    decided = _decisions(scope)
    closed = (
        sa.select(cases.c.grp, decided.c.outcome, (decided.c.decided_at <= decided.c.due_at).label("on_time"),
                  seconds_between(decided.c.submitted_at, decided.c.decided_at).label("seconds"),
                  decided.c.handling, decided.c.resident, decided.c.third_party)
        .join(cases, cases.c.request_id == decided.c.request_id)
    ).subquery("closed")
    counts = _keyed(_rows(
        sa.select(closed.c.grp, sa.func.count().label("n"),
                  sa.func.count(sa.case((closed.c.outcome == "completed", 1))).label("completed"),
                  sa.func.count(sa.case((closed.c.on_time, 1))).label("on_time"),
                  *(sa.func.sum(closed.c[kind]).label(kind) for kind in ("handling", "resident", "third_party")))
        .group_by(closed.c.grp)), 1)
    cycle = _keyed(_rows(percentiles(closed, "seconds", ["grp"])), 1)
    rows = []
    for (group,), row in sorted(counts.items()):
        n = _int(row.n)

        def mean(kind: str, row: sa.Row[Any] = row, n: int = n) -> float | None:
            return _hours(float(getattr(row, kind) or 0) / n)

        rows.append({"group": group, "closed": n, "completed": _int(row.completed), "rejected": n - _int(row.completed),
                     "on_time": _int(row.on_time), "on_time_rate": _rate(_int(row.on_time), n),
                     "median_hours": _hours(cycle[(group,)].median), "p90_hours": _hours(cycle[(group,)].p90),
                     "mean_hours": _hours(cycle[(group,)].total / n),
                     "handling_hours": mean("handling"), "resident_wait_hours": mean("resident"),
                     "third_party_wait_hours": mean("third_party")})
    return rows


def _step_rows(scope: Scope) -> tuple[sa.Subquery, sa.Subquery]:
    return _visits(scope), _cases(scope)


def _steps(scope: Scope) -> list[dict[str, Any]]:
    visits, cases = _step_rows(scope)
    # ended and open visits in one pass over the visits, told apart by ``open``
    is_open = _open(visits, scope)
    both = (
        sa.select(cases.c.grp, visits.c.service, visits.c.step, visits.c.kind,
                  sa.case((is_open, 1), else_=0).label("open"),
                  sa.case((is_open, None), else_=seconds_between(visits.c.entered_at, visits.c.left_at))
                  .label("seconds"))
        .join(cases, cases.c.request_id == visits.c.request_id).where(sa.or_(_ended(visits, scope), is_open))
    ).subquery("both")
    durations: dict[tuple[Any, ...], sa.Row[Any]] = {}
    still_open: dict[tuple[Any, ...], sa.Row[Any]] = {}
    for row in _rows(percentiles(both, "seconds", ["grp", "service", "step", "kind", "open"])):
        (still_open if row.open else durations)[tuple(row[:4])] = row
    rows = []
    for key in sorted({*durations, *still_open}):
        done, waiting = durations.get(key), still_open.get(key)
        n = _int(done.n) if done else 0
        rows.append({"group": key[0], "service": key[1], "step": key[2], "kind": key[3], "visits": n,
                     "median_hours": _hours(done.median) if done else None,
                     "p90_hours": _hours(done.p90) if done else None,
                     "mean_hours": _hours(done.total / n) if done else None,
                     "total_hours": _hours(done.total) if done else 0.0,
                     "open_at_end": _int(waiting.n) if waiting else 0})
    return rows


def _bottlenecks(scope: Scope) -> list[dict[str, Any]]:
    visits, cases = _step_rows(scope)
    is_open = _open(visits, scope)
    spent = (
        sa.select(cases.c.grp, visits.c.service, visits.c.step, visits.c.kind,
                  sa.case((is_open, seconds_between(visits.c.entered_at, _at(scope.as_of))),
                          else_=seconds_between(visits.c.entered_at, visits.c.left_at)).label("seconds"),
                  sa.case((is_open, 1), else_=0).label("open"))
        .join(cases, cases.c.request_id == visits.c.request_id).where(sa.or_(_ended(visits, scope), is_open))
    ).subquery("spent")
    totals = _rows(
        sa.select(spent.c.grp, spent.c.service, spent.c.step, spent.c.kind, sa.func.sum(spent.c.seconds).label("total"),
                  sa.func.count().label("visits"), sa.func.sum(spent.c.open).label("open"))
        .group_by(spent.c.grp, spent.c.service, spent.c.step, spent.c.kind))
    rows = []
    by_group: dict[str, list[dict[str, Any]]] = {}
    for row in totals:
        total = float(row.total or 0)
        waiting = total if row.kind in ("resident", "third_party") else 0.0
        by_group.setdefault(row.grp, []).append({
            "service": row.service, "step": row.step, "kind": row.kind, "total": total, "waiting": waiting,
            "handling": total - waiting, "visits": _int(row.visits), "open": _int(row.open)})
    measure = {"waiting": "waiting", "handling": "handling", "elapsed": "total"}[scope.rank_by]
    for group in sorted(by_group):
        # by the chosen measure, then by the whole time on the step, then by name
        ranked = sorted(by_group[group], key=lambda r: (-r[measure], -r["total"], r["service"], r["step"]))
        for rank, step in enumerate(ranked, start=1):
            n = step["visits"]
            rows.append({"group": group, "rank": rank, "service": step["service"], "step": step["step"],
                         "kind": step["kind"], "waiting_hours": _hours(step["waiting"]),
                         "handling_hours": _hours(step["handling"]), "total_hours": _hours(step["total"]),
                         "visits": n, "open_at_end": step["open"],
                         "mean_hours": _hours(step["total"] / n) if n else None})
    return rows


def _overdue(scope: Scope) -> list[dict[str, Any]]:
    visits, cases = _step_rows(scope)
    as_of = _at(scope.as_of)
    late = sa.and_(visits.c.kind == "handling", visits.c.due_at < as_of)
    open_now = (
        sa.select(cases.c.grp, late.label("late"),
                  sa.and_(visits.c.kind == "handling", visits.c.left_at.is_(None),
                          visits.c.step_due_at < as_of).label("step_late"),
                  sa.case((late, days_late(seconds_between(visits.c.due_at, as_of))), else_=0).label("days"))
        .join(cases, cases.c.request_id == visits.c.request_id).where(_open(visits, scope))
    ).subquery("open_now")

    def step_late(ranked: sa.Subquery) -> list[sa.ColumnElement[Any]]:
        return [sa.func.count(sa.case((ranked.c.step_late, 1))).label("step_late")]

    # late and not late apart (``late`` is a key), so the days' percentiles are of the late ones only
    opened: dict[tuple[Any, ...], dict[str, int]] = {}
    late_days: dict[tuple[Any, ...], sa.Row[Any]] = {}
    for row in _rows(percentiles(open_now, "days", ["grp", "late"], step_late)):
        counts = opened.setdefault((row.grp,), {"n": 0, "late": 0, "step_late": 0})
        counts["n"] += _int(row.n)
        counts["step_late"] += _int(row.step_late)
        if row.late:
            counts["late"] += _int(row.n)
            late_days[(row.grp,)] = row
    decided = _decisions(scope)
    closed = (
        sa.select(cases.c.grp, days_late(seconds_between(decided.c.due_at, decided.c.decided_at)).label("days"))
        .join(cases, cases.c.request_id == decided.c.request_id).where(decided.c.decided_at > decided.c.due_at)
    ).subquery("closed_late")
    closed_days = _keyed(_rows(percentiles(closed, "days", ["grp"])), 1)
    rows = []
    for key in sorted({*opened, *closed_days}):
        now_row, days_row, closed_row = opened.get(key), late_days.get(key), closed_days.get(key)
        rows.append({"group": key[0], "open": now_row["n"] if now_row else 0,
                     "overdue": now_row["late"] if now_row else 0,
                     "step_overdue": now_row["step_late"] if now_row else 0,
                     "overdue_calendar_days_total": _int(days_row.total) if days_row else 0,
                     "overdue_calendar_days_median": _int(days_row.median) if days_row else None,
                     "overdue_calendar_days_max": _int(days_row.max) if days_row else None,
                     "closed_late": _int(closed_row.n) if closed_row else 0,
                     "closed_late_calendar_days_total": _int(closed_row.total) if closed_row else 0,
                     "closed_late_calendar_days_max": _int(closed_row.max) if closed_row else None})
    return rows


def _rework(scope: Scope) -> list[dict[str, Any]]:
    cases = _cases(scope)
    counted = [sa.func.count(sa.case((E.c.action == action, 1))).label(column)
               for action, column in REWORK_ACTIONS.items()]
    reworked = sa.func.count(sa.distinct(sa.case((E.c.action.in_(sorted(REWORK_ACTIONS)), E.c.request_id))))
    stmt = (
        sa.select(cases.c.grp, *counted, reworked.label("reworked"),
                  sa.func.count(sa.distinct(E.c.request_id)).label("active"))
        .join(cases, cases.c.request_id == E.c.request_id)
        .where(E.c.at >= _at(scope.start), E.c.at < _at(scope.as_of))
        .group_by(cases.c.grp).order_by(cases.c.grp)
    )
    rows = []
    for row in _rows(stmt):
        active, reworked_n = _int(row.active), _int(row.reworked)
        rows.append({"group": row.grp, **{c: _int(getattr(row, c)) for c in REWORK_ACTIONS.values()},
                     "requests_active": active, "requests_reworked": reworked_n,
                     "rework_rate": _rate(reworked_n, active)})
    return rows


def _ratings(scope: Scope) -> list[dict[str, Any]]:
    cases = _cases(scope)
    as_of = _at(scope.as_of)
    levels = [sa.func.count(sa.case((RT.c.level == level, 1))).label(f"level_{level}") for level in range(1, 6)]
    statuses = [sa.func.count(sa.case((RT.c.follow_up_status == status, 1))).label(f"follow_up_{status}")
                for status in ("open", "answered", "closed")]
    stmt = (
        sa.select(cases.c.grp, sa.func.count().label("n"), sa.func.sum(RT.c.level).label("total"), *levels,
                  *statuses,
                  sa.func.count(sa.case((sa.and_(RT.c.follow_up_status == "open", RT.c.follow_up_due_at < as_of),
                                         1))).label("follow_up_overdue"))
        .join(cases, cases.c.request_id == RT.c.request_id)
        .where(RT.c.request_id.in_(sa.select(_decisions(scope, ("completed",)).c.request_id)))
        .group_by(cases.c.grp).order_by(cases.c.grp)
    )
    rows = []
    for row in _rows(stmt):
        n = _int(row.n)
        low = _int(row.level_1) + _int(row.level_2)
        rows.append({"group": row.grp, "ratings": n,
                     **{f"level_{level}": _int(getattr(row, f"level_{level}")) for level in range(1, 6)},
                     "mean_level": round(float(row.total) / n, 2) if n else None,
                     "satisfied_rate": _rate(n - low - _int(row.level_3), n),
                     "follow_ups": low, "follow_up_open": _int(row.follow_up_open),
                     "follow_up_answered": _int(row.follow_up_answered),
                     "follow_up_closed": _int(row.follow_up_closed),
                     "follow_up_overdue": _int(row.follow_up_overdue)})
    return rows


STATISTICS: dict[str, Statistic] = {s.name: s for s in (
    Statistic("backlog", "Backlog", "Requests open at the end of the range (as_of), with their age.", (
        _GROUP, _i("open", "Requests open (on a non-terminal step)."),
        _i("awaiting_resident", "Of them, waiting on the resident (supplement)."),
        _i("with_third_party", "Of them, waiting on a third party (clock excluded)."),
        _i("overdue", "Of them, being handled past their time limit (the limit as it stands now)."),
        _h("median_age_hours", "Median time since submission"), _h("p90_age_hours", "90th percentile of it"),
    ), _backlog),
    Statistic("throughput", "Arrivals and completions", "Per day or week (Monday first) of the range.", (
        _GROUP, Column("period", "date", "The day, or the Monday starting the week."),
        _i("arrivals", "Requests submitted."), _i("completions", "Requests completed."),
        _i("closures", "Requests that reached any terminal step (completed, rejected, withdrawn)."),
    ), _throughput),
    Statistic("cycle-times", "Cycle time and on-time rate",
              "Decisions (completed or rejected) in the range, from the events: submission to decision.", (
        _GROUP, _i("closed", "Requests decided."), _i("completed", "Completed."), _i("rejected", "Rejected."),
        _i("on_time", "Decided by their time limit (the limit as it stands now)."),
        Column("on_time_rate", "number", "on_time / closed."),
        _h("median_hours", "Median cycle time"), _h("p90_hours", "90th percentile cycle time"),
        _h("mean_hours", "Mean cycle time"),
        _h("handling_hours", "Mean time per request with the departments"),
        _h("resident_wait_hours", "Mean time per request waiting on the resident"),
        _h("third_party_wait_hours", "Mean time per request waiting on a third party"),
    ), _cycle_times),
    Statistic("steps", "Step times", "Visits to each step that ended in the range, and those open at its end.", (
        _GROUP, _SERVICE, _STEP, _KIND, _i("visits", "Visits that ended in the range."),
        _h("median_hours", "Median visit"), _h("p90_hours", "90th percentile visit"), _h("mean_hours", "Mean visit"),
        _h("total_hours", "All the ended visits together"), _i("open_at_end", "Requests standing on it at as_of."),
    ), _steps),
    Statistic("bottlenecks", "Bottlenecks",
              "Steps ranked by the total waiting time of requests on them (`rank_by=waiting`, the default: time "
              "waiting on the resident or a third party), or by handling time (`rank_by=handling`) or all the "
              "time on the step (`rank_by=elapsed`); ties by all the time on the step. Counted: visits ended in "
              "the range, plus the time so far of those still open at its end.", (
        _GROUP, _i("rank", "1 is where requests spent the most time by the chosen measure."), _SERVICE, _STEP, _KIND,
        _h("waiting_hours", "Time waiting on the resident or a third party on the step"),
        _h("handling_hours", "Time with the department on the step"),
        _h("total_hours", "Time spent on the step"), _i("visits", "Visits counted (ended and open)."),
        _i("open_at_end", "Of them, still open at as_of."), _h("mean_hours", "Mean per visit"),
    ), _bottlenecks),
    Statistic("overdue", "Overdue", "Open requests past their time limit at as_of, and requests decided late.", (
        _GROUP, _i("open", "Requests open at as_of."),
        _i("overdue", "Of them, being handled past the time limit (not while waiting on someone); the limit "
                      "is the request's as it stands now."),
        _i("step_overdue", "Of them, on a step past the step's own limit: only requests still on that step now "
                           "(the step limit is known only for the current step)."),
        _i("overdue_calendar_days_total", "Calendar days overdue (each local day begun after the limit, weekends "
                                          "and holidays included), summed."),
        _i("overdue_calendar_days_median", "Median calendar days overdue."),
        _i("overdue_calendar_days_max", "Most calendar days overdue."),
        _i("closed_late", "Requests decided after their limit."),
        _i("closed_late_calendar_days_total", "Calendar days late, summed."),
        _i("closed_late_calendar_days_max", "Most calendar days late."),
    ), _overdue),
    Statistic("rework", "Rework", "Actions in the range that send work round again.", (
        _GROUP, _i("supplement_rounds", "Requests for materials (补正)."), _i("send_backs", "Send-backs (退回)."),
        _i("transfers", "Transfers (转办)."), _i("reopens", "Reopened requests."),
        _i("requests_active", "Requests with any action in the range."),
        _i("requests_reworked", "Of them, with at least one of the above."),
        Column("rework_rate", "number", "requests_reworked / requests_active."),
    ), _rework),
    Statistic("ratings", "Ratings and follow-ups", "Ratings of requests decided in the range (好差评).", (
        _GROUP, _i("ratings", "Ratings."), *(_i(f"level_{n}", f"Rated {n}.") for n in range(1, 6)),
        Column("mean_level", "number", "Mean level."),
        Column("satisfied_rate", "number", "Share rated 4 or 5."),
        _i("follow_ups", "Ratings of 1 or 2 (a follow-up each)."), _i("follow_up_open", "Follow-ups not answered."),
        _i("follow_up_answered", "Answered, not closed."), _i("follow_up_closed", "Closed."),
        _i("follow_up_overdue", "Not answered by their deadline (at as_of)."),
    ), _ratings),
)}


def compute(name: str, scope: Scope) -> Result:
    statistic = STATISTICS[name]
    return Result(statistic, scope, statistic.compute(scope))


def statistic(actor: Actor, name: str, date_from: date, date_to: date, *, group: str = "service",
              granularity: str = "day", service: str | None = None, department: str | None = None,
              now: datetime | None = None, rank_by: str = "waiting") -> Result:
    """The statistic ``name`` over what ``actor`` may read (see :func:`scope_for`)."""
    scope = scope_for(actor, date_from, date_to, group=group, granularity=granularity, service=service,
                      department=department, now=now, rank_by=rank_by)
    return compute(name, scope)


def document(result: Result) -> dict[str, Any]:
    """The result as the JSON response carries it."""
    scope = result.scope
    return {"statistic": result.statistic.name, "date_from": scope.date_from, "date_to": scope.date_to,
            "as_of": scope.as_of, "group": scope.group, "granularity": scope.granularity, "service": scope.service,
            "departments": sorted(scope.departments) if scope.departments is not None else None,
            "items": result.rows}
