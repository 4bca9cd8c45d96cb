"""A simulated history (模拟数据) for dashboards, exports and benchmarks: requests that arrive over working
days, wait in the queues of departments with limited capacity, and go through the real engine — supplements,
transfers, send-backs, countersigns, extensions, some of them late — and ratings skewed as real ones are.

Every action is decided by :mod:`service.engine.runtime` exactly as in production (the simulation only picks
which action and who takes it), on an advancing simulated clock, in memory; the finished requests, their events,
queue rows and ratings are written in batches with Core ``executemany``, each batch one transaction. The same
seed, sizes and end day give the same history, ids included.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from ulid import ULID

from service.accounts.models import Resident, Staff
from service.accounts.queries import department_directory
from service.calendar.queries import time_zone
from service.catalog.models import Service
from service.core.db import db
from service.core.errors import Conflict, ValidationFailed
from service.engine import runtime
from service.engine.clock import Clock
from service.engine.definition import ProcessDefinition
from service.engine.errors import ActorNotAllowed, IllegalAction, InvalidActionData
from service.engine.runtime import Command, Context, EngineActor, RequestState
from service.engine.serialize import state_to_dict
from service.processes.queries import active_version_id, definition_by_id
from service.requests.models import Rating, Request, RequestAssignee, RequestEvent
from service.requests.operations import engine_context

# Share of arrivals per service (repairs and complaints dominate a district's intake).
SERVICE_MIX = {"repair": 0.34, "complaint": 0.26, "consultation": 0.2, "disclosure": 0.08, "permit": 0.12}
COMPLAINT_DEPARTMENTS = {"urban": 0.4, "housing": 0.25, "market": 0.15, "environment": 0.1, "civil-affairs": 0.1}
# Median working hours a department takes to get to an action, before any queue (and the spread of it).
HANDLING_MEDIAN_HOURS = {"service-center": 3.0, "urban": 7.0, "housing": 9.0, "market": 8.0, "environment": 10.0,
                         "civil-affairs": 6.0, "gov-office": 12.0, "district": 8.0}
# Actions a department can take per working day, as a multiple of what the expected intake brings it: below
# ~1.1 queues build up after busy Mondays and some requests run late.
CAPACITY_FACTOR = {"service-center": 1.4, "urban": 1.08, "housing": 1.2, "market": 1.15, "environment": 1.1,
                   "civil-affairs": 1.5, "gov-office": 1.25, "district": 2.0}
OFFICE_OPENS = time(9, 0)
OFFICE_SECONDS = 8 * 3600
# Ratings: the share of completed requests rated, and the levels (5 first) on time and late.
RATED_SHARE = 0.55
LEVELS_ON_TIME = (0.78, 0.12, 0.05, 0.03, 0.02)
LEVELS_LATE = (0.45, 0.2, 0.15, 0.1, 0.1)

Choice = tuple[str, float]
# step -> (action, weight); the first is what the step normally leads to, and the fallback
POLICY: dict[str, dict[str, tuple[Choice, ...]]] = {
    "repair": {"acceptance": (("accept", 0.9), ("reject", 0.04), ("transfer", 0.04), ("withdraw", 0.02)),
               "repair": (("complete", 0.95), ("transfer", 0.05))},
    "consultation": {"answering": (("reply", 0.92), ("transfer", 0.05), ("withdraw", 0.03))},
    "complaint": {"intake": (("dispatch", 0.88), ("request_materials", 0.06), ("reject", 0.04), ("withdraw", 0.02)),
                  "handling": (("reply", 0.75), ("transfer", 0.08), ("send_back", 0.05), ("request_materials", 0.05),
                               ("extend", 0.03), ("supervise", 0.02), ("withdraw", 0.02)),
                  "return_visit": (("close", 0.9), ("send_back", 0.1)),
                  "supplement": (("supplement", 0.88), ("withdraw", 0.12))},
    "disclosure": {"registration": (("accept", 0.85), ("request_materials", 0.1), ("reject", 0.05)),
                   "handling": (("reply", 0.8), ("consult_third_party", 0.08), ("extend", 0.05),
                                ("request_materials", 0.03), ("transfer", 0.02), ("withdraw", 0.02)),
                   "third_party_opinion": (("record_opinion", 1.0),),
                   "supplement": (("supplement", 0.85), ("withdraw", 0.15))},
    "permit": {"acceptance": (("accept", 0.8), ("request_materials", 0.12), ("reject", 0.06), ("withdraw", 0.02)),
               "review": (("countersign", 0.95), ("add_signer", 0.05)),
               "decision": (("approve", 0.85), ("reject", 0.08), ("send_back", 0.05), ("extend", 0.02)),
               "supplement": (("supplement", 0.9), ("withdraw", 0.1))},
}
TRANSFER_TO = {"urban": ("housing", "civil-affairs"), "housing": ("urban", "civil-affairs"),
               "market": ("environment", "urban"), "environment": ("market", "urban"),
               "civil-affairs": ("housing", "urban"), "service-center": ("civil-affairs", "housing"),
               "gov-office": ("service-center",)}
DISCLOSURE_REPLIES: tuple[tuple[dict[str, str], float], ...] = (
    ({"outcome": "public", "answer": "予以公开"}, 0.6),
    ({"outcome": "partly_public", "answer": "部分公开", "reasons": "涉及第三方商业秘密"}, 0.15),
    ({"outcome": "not_exist", "answer": "信息不存在"}, 0.15),
    ({"outcome": "already_published", "where": "区政府门户网站"}, 0.1),
)


@dataclass(frozen=True)
class SimulationReport:
    requests: int
    events: int
    ratings: int
    residents: int
    open_at_end: int
    late: int
    first_day: date
    last_day: date


class WorkingTime:
    """Office hours (09:00–17:00 local on working days) as a line of working seconds, both ways."""

    def __init__(self, calendar: Any, tz: Any, first: date, days: int) -> None:
        self.tz, self.first = tz, first
        self.prefix = [0]
        self.days = [first + timedelta(days=i) for i in range(days)]
        for day in self.days:
            self.prefix.append(self.prefix[-1] + (OFFICE_SECONDS if calendar.is_working_day(day) else 0))
        self.working = [self.prefix[i + 1] > self.prefix[i] for i in range(days)]

    def at(self, instant: datetime) -> float:
        local = instant.astimezone(self.tz)
        index = min(max((local.date() - self.first).days, 0), len(self.days) - 1)
        into = 0.0
        if self.working[index]:
            opens = datetime.combine(local.date(), OFFICE_OPENS, tzinfo=self.tz)
            into = min(max((local - opens).total_seconds(), 0.0), OFFICE_SECONDS)
        return self.prefix[index] + into

    def instant(self, position: float) -> datetime:
        index = min(bisect.bisect_right(self.prefix, position) - 1, len(self.days) - 1)
        while index > 0 and not self.working[index]:
            index -= 1
        into = min(position - self.prefix[index], OFFICE_SECONDS)
        opens = datetime.combine(self.days[index], OFFICE_OPENS, tzinfo=self.tz)
        return (opens + timedelta(seconds=into)).astimezone(UTC)


@dataclass
class _Queue:
    """One department as a single server: actions wait for it in the order they become due (FCFS)."""

    seconds_per_action: float
    median_hours: float
    free_at: float = 0.0


@dataclass
class _Case:
    id: str
    service: Service
    version_id: str
    definition: ProcessDefinition
    resident_id: str
    submitted_at: datetime
    state: RequestState | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    signed_once: bool = False


class Simulation:
    def __init__(self, requests: int, days: int, seed: int, until: date | None, batch: int,
                 progress: Callable[[int], None] | None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (a reproducible simulation, not a secret)
        self.seed, self.total, self.days, self.batch, self.progress = seed, requests, days, batch, progress
        directory = department_directory()
        self.ctx: Context = engine_context(directory)
        self.tz = self.ctx.tz
        # yesterday by default: a history that ends at midnight tonight would hold events still to come
        last = until or datetime.now(self.tz).date() - timedelta(days=1)
        self.first_day, self.last_day = last - timedelta(days=days - 1), last
        # and never past the real now, whatever ``until`` says (a day still running is simulated up to now)
        self.now = min(datetime.combine(last + timedelta(days=1), time.min, tzinfo=self.tz).astimezone(UTC),
                       datetime.now(UTC))
        self.clock = WorkingTime(self.ctx.calendar, self.tz, self.first_day - timedelta(days=7), days + 800)
        self.department_ids = directory.id_of
        self.services = {s.code: s for s in db.session.execute(sa.select(Service).where(
            Service.code.in_(sorted(SERVICE_MIX)))).scalars()}
        missing = sorted(set(SERVICE_MIX) - set(self.services))
        if missing:
            raise Conflict(f"Load the demo district first (missing services: {', '.join(missing)}).")
        self.versions = {code: active_version_id(s.process_code) for code, s in self.services.items()}
        self.definitions = {code: definition_by_id(v) for code, v in self.versions.items()}
        self.actors = self._actors()
        self.queues = self._queues()
        self.follow_up_days = int(current_app.config["FOLLOW_UP_WORKING_DAYS"])
        self.buffers: dict[str, list[dict[str, Any]]] = {"requests": [], "events": [], "assignees": [],
                                                         "ratings": []}
        self.written = {"requests": 0, "events": 0, "ratings": 0, "open": 0, "late": 0}

    # --- set-up ---------------------------------------------------------------------------------------------

    def _actors(self) -> dict[tuple[str, str], EngineActor]:
        actors: dict[tuple[str, str], EngineActor] = {}
        staff = db.session.execute(sa.select(Staff).where(Staff.active).order_by(Staff.username)).scalars()
        directory = department_directory()
        for member in staff:
            code = directory.code_of.get(member.department_id)
            for role in ("handler", "supervisor"):
                if code and role in member.roles and (code, role) not in actors:
                    actors[(code, role)] = EngineActor(kind="staff", id=member.id, department=code,
                                                       roles=frozenset(member.roles))
        for code in COMPLAINT_DEPARTMENTS.keys() | {"service-center", "gov-office"}:
            if (code, "handler") not in actors or (code, "supervisor") not in actors:
                raise Conflict(f"Load the demo district first (no handler and supervisor in {code}).")
        return actors

    def _queues(self) -> dict[str, _Queue]:
        working_days = max(1, sum(1 for d in range(self.days)
                                  if self.ctx.calendar.is_working_day(self.first_day + timedelta(days=d))))
        per_day = self.total / working_days
        load = dict.fromkeys(HANDLING_MEDIAN_HOURS, 0.0)
        for code, share in (("service-center", SERVICE_MIX["complaint"] * 2 + SERVICE_MIX["consultation"]
                             + SERVICE_MIX["permit"]), ("gov-office", SERVICE_MIX["disclosure"] * 2.2),
                            ("urban", SERVICE_MIX["repair"] * 2), ("market", SERVICE_MIX["permit"] * 2),
                            ("environment", SERVICE_MIX["permit"])):
            load[code] += share * per_day
        for code, share in COMPLAINT_DEPARTMENTS.items():
            load[code] += SERVICE_MIX["complaint"] * share * per_day * 1.2
        queues = {}
        for code, median in HANDLING_MEDIAN_HOURS.items():
            capacity = max(load[code] * CAPACITY_FACTOR[code], 0.5)
            # a department has enough staff that an action takes at most half an hour of its day
            queues[code] = _Queue(seconds_per_action=min(OFFICE_SECONDS / capacity, 1800.0), median_hours=median)
        return queues

    def _new_id(self, at: datetime) -> str:
        raw = int(at.timestamp() * 1000).to_bytes(6, "big") + self.rng.getrandbits(80).to_bytes(10, "big")
        return str(ULID.from_bytes(raw)).lower()

    def _residents(self) -> list[str]:
        count = max(1, self.total // 3)
        prefix = f"sim-{self.seed}-"
        if db.session.execute(sa.select(Resident.id).where(Resident.openid == f"{prefix}0")).first():
            raise Conflict(f"This database has a simulation with seed {self.seed} already; choose another seed.")
        table = Resident.__table__
        ids = []
        stamp = datetime.combine(self.first_day, time.min, tzinfo=self.tz)
        for start in range(0, count, 5000):
            rows = []
            for i in range(start, min(count, start + 5000)):
                resident_id = self._new_id(stamp)
                ids.append(resident_id)
                rows.append({"id": resident_id, "openid": f"{prefix}{i}", "version": 1, "created_at": stamp,
                             "updated_at": stamp})
            db.session.execute(table.insert(), rows)  # type: ignore[attr-defined]
        db.session.commit()
        return ids

    def _arrivals(self) -> list[tuple[datetime, str]]:
        """Submission times: mostly on working days in office hours (busiest on Monday mornings), a few online
        in the evening or at the weekend."""
        days = [self.first_day + timedelta(days=i) for i in range(self.days)]
        weights = []
        for day in days:
            working = self.ctx.calendar.is_working_day(day)
            weights.append((1.25 if day.weekday() == 0 else 1.0) if working else 0.15)
        cumulative = list(_accumulate(weights))
        codes, shares = list(SERVICE_MIX), list(SERVICE_MIX.values())
        chosen_days = self.rng.choices(days, cum_weights=cumulative, k=self.total)
        chosen_services = self.rng.choices(codes, weights=shares, k=self.total)
        arrivals = []
        for day, code in zip(chosen_days, chosen_services, strict=True):
            if self.rng.random() < 0.12 or not self.ctx.calendar.is_working_day(day):
                hour = self.rng.uniform(7.0, 23.0)
            else:
                hour = self.rng.triangular(8.5, 17.5, 9.5)
            instant = datetime.combine(day, time.min, tzinfo=self.tz) + timedelta(hours=hour)
            # today (``--until`` today): nothing arrives later than now
            arrivals.append((min(instant.astimezone(UTC), self.now - timedelta(seconds=1)), code))
        arrivals.sort(key=lambda pair: pair[0])
        return arrivals

    # --- the run --------------------------------------------------------------------------------------------

    def run(self) -> SimulationReport:
        residents = self._residents()
        arrivals = self._arrivals()
        heap: list[tuple[datetime, int, _Case]] = []
        counter = 0
        index = 0
        while index < len(arrivals) or heap:
            if index < len(arrivals) and (not heap or arrivals[index][0] <= heap[0][0]):
                at, code = arrivals[index]
                index += 1
                case = self._submit(at, code, self.rng.choice(residents))
            else:
                at, _, case = heapq.heappop(heap)
                self._act(case, at)
            assert case.state is not None
            if self.definitions[case.service.code].step(case.state.step).terminal:
                self._finish(case)
                continue
            next_at = self._next_time(case, at)
            if next_at >= self.now:
                self._finish(case)
                continue
            counter += 1
            heapq.heappush(heap, (next_at, counter, case))
        self._flush()
        return SimulationReport(requests=self.written["requests"], events=self.written["events"],
                                ratings=self.written["ratings"], residents=len(residents),
                                open_at_end=self.written["open"], late=self.written["late"],
                                first_day=self.first_day, last_day=self.last_day)

    def _submit(self, at: datetime, code: str, resident_id: str) -> _Case:
        service = self.services[code]
        definition = self.definitions[code]
        case = _Case(id=self._new_id(at), service=service, version_id=self.versions[code], definition=definition,
                     resident_id=resident_id, submitted_at=at)
        case.state, event = runtime.start(definition, resident_id, at)
        self._record(case, event)
        return case

    def _next_time(self, case: _Case, at: datetime) -> datetime:
        """When the next action on the case happens: the resident or third party after their own delay, a
        department after its queue and its handling time, in office hours."""
        assert case.state is not None
        step = case.definition.step(case.state.step)
        if step.kind == "resident":
            return at + timedelta(days=self.rng.lognormvariate(math.log(2.0), 0.9))
        if step.clock == "excluded":
            return at + timedelta(days=self.rng.uniform(3.0, 15.0))
        if case.state.countersign is not None and case.state.countersign.pending:
            department = case.state.countersign.pending[0]
        elif case.state.assignment is not None:
            department = case.state.assignment.department
        else:
            department = "service-center"
        queue = self.queues.get(department) or self.queues["district"]
        ready = self.clock.at(at)
        start = max(ready, queue.free_at)
        queue.free_at = start + self.rng.expovariate(1.0 / queue.seconds_per_action)
        handling = self.rng.lognormvariate(math.log(queue.median_hours * 3600), 0.8)
        return max(self.clock.instant(queue.free_at + handling), at + timedelta(minutes=5))

    def _act(self, case: _Case, at: datetime) -> None:
        assert case.state is not None
        state = case.state
        step = state.step
        choices = POLICY[case.service.code][step]
        action = self._pick(choices)
        if action == "add_signer" and case.signed_once:
            action = choices[0][0]
        for attempt in (action, choices[0][0]):
            actor = self._actor_for(case, attempt)
            data, comment = self._data_for(case, attempt)
            try:
                case.state, event = runtime.apply(case.definition, state, Command(attempt, comment, data), actor, at,
                                                  self.ctx)
            except (IllegalAction, ActorNotAllowed, InvalidActionData):
                if attempt == choices[0][0]:
                    raise
                continue
            if attempt == "add_signer":
                case.signed_once = True
            self._record(case, event)
            return

    def _pick(self, choices: tuple[Choice, ...]) -> str:
        roll = self.rng.random() * sum(weight for _, weight in choices)
        for action, weight in choices:
            roll -= weight
            if roll < 0:
                return action
        return choices[0][0]

    def _actor_for(self, case: _Case, action: str) -> EngineActor:
        assert case.state is not None
        state = case.state
        spec = next((s for s in case.definition.step(state.step).actions if s.action == action), None)
        if (spec is not None and spec.by == "resident") or case.definition.step(state.step).kind == "resident":
            return EngineActor(kind="resident", id=case.resident_id)
        if state.countersign is not None and state.countersign.pending:
            return self.actors[(state.countersign.pending[0], "handler")]
        department = state.assignment.department if state.assignment else "service-center"
        role = "supervisor" if (spec is not None and spec.by == "supervisor") or action == "supervise" or (
            state.assignment is not None and state.assignment.role == "supervisor") else "handler"
        return self.actors.get((department, role)) or self.actors[("service-center", "handler")]

    def _data_for(self, case: _Case, action: str) -> tuple[dict[str, Any], str | None]:
        assert case.state is not None
        state = case.state
        if action == "transfer":
            current = state.assignment.department if state.assignment else "service-center"
            return {"department": self.rng.choice(TRANSFER_TO.get(current, ("urban",)))}, "不属本部门职责，转办"
        if action == "dispatch":
            return {"department": self._pick(tuple(COMPLAINT_DEPARTMENTS.items()))}, None
        if action == "request_materials":
            return {"items": ["身份证明", "现场照片"][: self.rng.randint(1, 2)]}, "请补充材料"
        if action == "countersign":
            return {"decision": "agree" if self.rng.random() < 0.92 else "disagree"}, None
        if action == "add_signer":
            return {"department": "housing"}, None
        if action == "extend":
            return {"days": self.rng.randint(3, 10)}, "情况复杂，需延期办理"
        if action in ("reject", "send_back"):
            return {}, "材料不符合要求" if action == "reject" else "办理结果不完整，请重新办理"
        if action == "reply":
            if case.service.code == "disclosure":
                return dict(self._pick_reply()), None
            return {"answer": "已办理，特此答复"}, None
        if action == "close":
            return {"satisfied": self.rng.random() < 0.85}, None
        return {}, None

    def _pick_reply(self) -> Mapping[str, str]:
        roll = self.rng.random()
        for data, weight in DISCLOSURE_REPLIES:
            roll -= weight
            if roll < 0:
                return data
        return DISCLOSURE_REPLIES[0][0]

    def _record(self, case: _Case, event: runtime.Event) -> None:
        case.events.append({
            "id": self._new_id(event.at), "request_id": case.id, "seq": len(case.events) + 1, "action": event.action,
            "at": event.at, "actor_kind": event.actor_kind, "actor_id": event.actor_id,
            "actor_department": event.actor_department, "from_step": event.from_step, "to_step": event.to_step,
            "comment": event.comment, "data": dict(event.data), "public": event.public,
        })

    # --- writing --------------------------------------------------------------------------------------------

    def _finish(self, case: _Case) -> None:
        """Queue the case's rows: it reached a terminal step, or the simulated time ran out."""
        assert case.state is not None
        state, ctx = case.state, self.ctx
        last = case.events[-1]["at"]
        due = state.clock.due_at(ctx.calendar, ctx.tz, last)
        step_due = state.step_clock.due_at(ctx.calendar, ctx.tz, last) if state.step_clock else None
        closed = state.clock.stopped_at
        count = len(case.events)
        self.buffers["requests"].append({
            "id": case.id, "version": count, "created_at": case.submitted_at, "updated_at": last,
            "service_id": case.service.id, "process_version_id": case.version_id, "resident_id": case.resident_id,
            "status": state.status, "current_step": state.step, "submitted_at": case.submitted_at, "due_at": due,
            "step_due_at": step_due, "closed_at": closed, "claimed_by_id": None, "claim_expires_at": None,
            "form": {}, "materials": {}, "state": state_to_dict(state), "event_count": count,
        })
        self.buffers["events"].extend(case.events)
        if closed is None:
            self.written["open"] += 1
            for assignment in runtime.expected_actors(case.definition, state):
                self.buffers["assignees"].append({"request_id": case.id,
                                                  "department_id": self.department_ids[assignment.department],
                                                  "role": assignment.role, "due_at": step_due or due})
        late = (closed or self.now) > due and state.status != "withdrawn"
        self.written["late"] += int(late)
        if state.status == "completed" and closed is not None:
            self._rate(case, closed, late)
        if len(self.buffers["requests"]) >= self.batch:
            self._flush()

    def _rate(self, case: _Case, closed: datetime, late: bool) -> None:
        if self.rng.random() >= RATED_SHARE:
            return
        rated_at = closed + timedelta(hours=self.rng.expovariate(1 / 20.0))
        if rated_at >= self.now:
            return
        levels = LEVELS_LATE if late else LEVELS_ON_TIME
        roll, level = self.rng.random(), 1
        for candidate, weight in zip((5, 4, 3, 2, 1), levels, strict=True):
            roll -= weight
            if roll < 0:
                level = candidate
                break
        row: dict[str, Any] = {
            "id": self._new_id(rated_at), "version": 1, "created_at": rated_at, "updated_at": rated_at,
            "request_id": case.id, "resident_id": case.resident_id, "service_id": case.service.id, "level": level,
            "comment": None, "tags": [], "follow_up_status": "none", "follow_up_department_id": None,
            "follow_up_due_at": None, "follow_up_answer": None, "follow_up_answered_at": None,
            "follow_up_answered_by": None, "extra": {},
        }
        if level <= 2:
            department = next((e["actor_department"] for e in reversed(case.events)
                               if e["actor_kind"] == "staff" and e["actor_department"]), "service-center")
            due = Clock.start(rated_at, self.follow_up_days).due_at(self.ctx.calendar, self.ctx.tz, rated_at)
            answered_at = rated_at + timedelta(days=self.rng.uniform(0.5, 9.0))
            row.update(follow_up_status="open", follow_up_department_id=self.department_ids[department],
                       follow_up_due_at=due)
            if answered_at < self.now and self.rng.random() < 0.85:
                row.update(follow_up_status="closed" if self.rng.random() < 0.7 else "answered",
                           follow_up_answer="已联系群众并整改", follow_up_answered_at=answered_at,
                           follow_up_answered_by=self.actors[(department, "handler")].id,
                           updated_at=answered_at)
        self.buffers["ratings"].append(row)

    def _flush(self) -> None:
        if not self.buffers["requests"]:
            return
        tables = (("requests", Request), ("events", RequestEvent), ("assignees", RequestAssignee),
                  ("ratings", Rating))
        for name, model in tables:
            rows = self.buffers[name]
            if rows:
                db.session.execute(model.__table__.insert(), rows)  # type: ignore[attr-defined]
        db.session.commit()
        self.written["requests"] += len(self.buffers["requests"])
        self.written["events"] += len(self.buffers["events"])
        self.written["ratings"] += len(self.buffers["ratings"])
        for rows in self.buffers.values():
            rows.clear()
        if self.progress is not None:
            self.progress(self.written["requests"])


def _accumulate(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def simulate(requests: int, days: int, seed: int, *, until: date | None = None, batch: int = 2000,
             progress: Callable[[int], None] | None = None) -> SimulationReport:
    """Simulate ``requests`` requests arriving over the ``days`` days up to ``until`` (yesterday by default;
    no event later than now in any case), and
    write them; needs the demo district (``civicdesk demo load``). Commits batch by batch."""
    if requests < 1 or days < 1:
        raise ValidationFailed("Simulate at least one request over at least one day.",
                               errors={"requests": ["Must be at least 1."]} if requests < 1 else
                               {"days": ["Must be at least 1."]})
    if until is not None and until > datetime.now(time_zone()).date():
        raise ValidationFailed("The simulated history cannot run into the future.",
                               errors={"until": ["Must be today at the latest."]})
    return Simulation(requests, days, seed, until, batch, progress).run()
