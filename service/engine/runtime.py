"""The runtime: definition + state + action + actor + clock → new state + one event.

``apply`` decides whether an action is legal and for whom, and records the decision as an immutable
:class:`Event`; ``evolve`` computes the next state from an event alone, so replaying a request's events
rebuilds its state exactly (``replay``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from service.engine.clock import Clock, WorkingCalendar, local_day, receipt_day, working_days_between
from service.engine.definition import (
    CHOSEN,
    PREVIOUS,
    RETURN,
    SAME,
    ActionSpec,
    DataField,
    ProcessDefinition,
    StepSpec,
)
from service.engine.errors import ActorNotAllowed, IllegalAction, InvalidActionData

SUBMIT = "submit"
HANDLING_ROLES = frozenset({"handler", "supervisor"})
_CLAIM = ActionSpec(action="claim", to=SAME, public=False)
_RELEASE = ActionSpec(action="release", to=SAME, public=False)


@dataclass(frozen=True)
class EngineActor:
    kind: str  # "staff", "resident" or "system"
    id: str
    department: str | None = None  # department code
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Context:
    calendar: WorkingCalendar
    tz: tzinfo
    known_departments: Collection[str] | None = None
    claim_timeout: timedelta | None = None  # a claim (签收) not acted on for this long lapses


@dataclass(frozen=True)
class Command:
    action: str
    comment: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """An immutable record of an action on a request (流转记录)."""

    action: str
    at: datetime
    actor_kind: str
    actor_id: str
    actor_department: str | None
    from_step: str | None
    to_step: str
    comment: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    public: bool = True


@dataclass(frozen=True)
class Assignment:
    department: str
    role: str = "handler"


@dataclass(frozen=True)
class Countersign:
    required: tuple[str, ...]
    signatures: tuple[tuple[str, str], ...] = ()  # (department, "agree" | "disagree"), in signing order

    @property
    def pending(self) -> tuple[str, ...]:
        signed = {department for department, _ in self.signatures}
        return tuple(d for d in self.required if d not in signed)


@dataclass(frozen=True)
class RequestState:
    owner: str
    step: str
    status: str
    step_entered_at: datetime
    clock: Clock
    step_clock: Clock | None = None
    assignment: Assignment | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    countersign: Countersign | None = None
    return_to: str | None = None
    trail: tuple[str, ...] = ()  # staff steps left behind, newest last, for send_back to $previous
    asked: tuple[str, ...] | None = None  # what the resident is asked to supply now
    outcome: Mapping[str, Any] | None = None  # data of the action that ended the request
    touched: bool = False  # staff acted at least once
    supervised: bool = False  # flagged by a supervisor (督办)
    # the department each step was last with (after dispatch or transfer), so re-entering a step — sent back,
    # returning from a supplement or a third party — finds it with the same department
    step_assignments: tuple[tuple[str, Assignment], ...] = ()

    def remembered_assignment(self, step: str) -> Assignment | None:
        return next((a for s, a in self.step_assignments if s == step), None)

    def remembering(self, step: str, assignment: Assignment | None) -> tuple[tuple[str, Assignment], ...]:
        kept = tuple((s, a) for s, a in self.step_assignments if s != step)
        return (*kept, (step, assignment)) if assignment else kept


# --- who may act ------------------------------------------------------------------------------------------


def _is_owner(state: RequestState, actor: EngineActor) -> bool:
    return actor.kind == "resident" and actor.id == state.owner


def _in_assigned_department(state: RequestState, actor: EngineActor) -> bool:
    return actor.kind == "staff" and state.assignment is not None and actor.department == state.assignment.department


def _qualifies(state: RequestState, spec: ActionSpec, actor: EngineActor) -> bool:
    """Whether the actor is the kind of actor ``spec.by`` names, for this request now."""
    if spec.by == "resident":
        return _is_owner(state, actor)
    if actor.kind != "staff":
        return False
    supervisor = "supervisor" in actor.roles
    if spec.action == "release":
        return state.claimed_by == actor.id or (supervisor and _in_assigned_department(state, actor))
    if spec.by == "signer":
        return state.countersign is not None and actor.department in state.countersign.pending and bool(
            actor.roles & HANDLING_ROLES)
    if spec.by == "supervisor":
        if not supervisor:
            return False
        if state.assignment is not None:
            return actor.department == state.assignment.department
        return state.countersign is not None and actor.department in state.countersign.required
    # the assignee: the assigned department's role (or its supervisor), and the claimer once claimed
    if not _in_assigned_department(state, actor):
        return False
    assert state.assignment is not None
    if state.assignment.role not in actor.roles and not supervisor:
        return False
    if spec.action == "claim":
        return True
    return state.claimed_by is None or state.claimed_by == actor.id or supervisor


def _blocked(definition: ProcessDefinition, state: RequestState, spec: ActionSpec, ctx: Context,
             now: datetime) -> str | None:
    """Why an action that exists in the step cannot be taken right now, or None."""
    if spec.action == "claim" and state.claimed_by is not None:
        return "the request is already claimed"
    if spec.action == "release" and state.claimed_by is None:
        return "the request is not claimed"
    if spec.action == "extend":
        if definition.clock.extension_max_days <= 0:
            return "this process allows no extension"
        if state.clock.extensions:
            return "the time limit was extended already"
    if spec.action == "request_materials" and definition.clock.supplement_request_within_days is not None:
        received = receipt_day(ctx.calendar, state.clock.started_at, ctx.tz)
        used = working_days_between(ctx.calendar, received, local_day(now, ctx.tz))
        if used > definition.clock.supplement_request_within_days:
            return (f"materials may only be requested within {definition.clock.supplement_request_within_days} "
                    "working days of receipt")
    if spec.to == PREVIOUS and not state.trail:
        return "there is no earlier step to send the request back to"
    if spec.to == RETURN and state.return_to is None:
        return "there is no step to return to"
    return None


def _specs(definition: ProcessDefinition, state: RequestState) -> tuple[ActionSpec, ...]:
    step = definition.step(state.step)
    implicit = (_CLAIM, _RELEASE) if step.kind == "task" else ()
    return step.actions + implicit


def claim_expires_at(state: RequestState, ctx: Context) -> datetime | None:
    if state.claimed_by is None or state.claimed_at is None or ctx.claim_timeout is None:
        return None
    return state.claimed_at + ctx.claim_timeout


def _as_of(state: RequestState, ctx: Context, now: datetime) -> RequestState:
    """The state as the checks see it at ``now``: a lapsed claim no longer holds."""
    expires = claim_expires_at(state, ctx)
    if expires is not None and expires <= now:
        return replace(state, claimed_by=None, claimed_at=None)
    return state


def allowed_actions(definition: ProcessDefinition, state: RequestState, actor: EngineActor, ctx: Context,
                    now: datetime) -> list[str]:
    """The actions this actor may take on the request now, in the definition's order."""
    state = _as_of(state, ctx, now)
    return [
        spec.action for spec in _specs(definition, state)
        if _qualifies(state, spec, actor) and _blocked(definition, state, spec, ctx, now) is None
    ]


def expected_actors(definition: ProcessDefinition, state: RequestState) -> list[Assignment]:
    """Who is expected to act now (the step's assignee, or each department yet to countersign)."""
    step = definition.step(state.step)
    if step.terminal or step.kind == "resident":
        return []
    if state.countersign is not None:
        return [Assignment(department=d, role="handler") for d in state.countersign.pending]
    return [state.assignment] if state.assignment else []


# --- validation of an action's data -------------------------------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "boolean": (bool,), "list": (list,), "object": (dict,),
}


def _check_field(f: DataField, value: Any, required: bool) -> list[str]:
    if (f.type == "integer" and isinstance(value, bool)) or not isinstance(value, _TYPES[f.type]):
        return [f"Must be of type {f.type}."]
    problems = []
    if f.enum is not None and value not in f.enum:
        problems.append(f"Must be one of: {', '.join(map(str, f.enum))}.")
    if f.minimum is not None and isinstance(value, int) and value < f.minimum:
        problems.append(f"Must be at least {f.minimum}.")
    if f.maximum is not None and isinstance(value, int) and value > f.maximum:
        problems.append(f"Must be at most {f.maximum}.")
    if f.max_length is not None and isinstance(value, (str, list)) and len(value) > f.max_length:
        problems.append(f"Must have at most {f.max_length} characters or items.")
    if f.type == "list" and required and not value:
        problems.append("Must not be empty.")
    if f.type == "string" and required and not value.strip():
        problems.append("Must not be blank.")
    return problems


def _validate(definition: ProcessDefinition, state: RequestState, spec: ActionSpec, command: Command,
              ctx: Context) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    fields = {f.name: f for f in spec.fields}
    for name in command.data:
        if name not in fields:
            errors.setdefault(f"data.{name}", []).append("Unknown field for this action.")
    for f in spec.fields:
        present = f.name in command.data and command.data[f.name] is not None
        required = f.required or any(command.data.get(other) in values for other, values in f.required_when.items())
        if not present:
            if required:
                errors.setdefault(f"data.{f.name}", []).append("Missing data for required field.")
            continue
        for problem in _check_field(f, command.data[f.name], required):
            errors.setdefault(f"data.{f.name}", []).append(problem)
    if spec.comment_required and not (command.comment or "").strip():
        errors.setdefault("comment", []).append("A comment (the reason) is required for this action.")
    if not errors:
        _check_references(definition, state, spec, command, ctx, errors)
    if errors:
        raise InvalidActionData(f"The data of {spec.action!r} are invalid.", errors)
    return {k: v for k, v in command.data.items() if v is not None}


def _check_references(definition: ProcessDefinition, state: RequestState, spec: ActionSpec, command: Command,
                      ctx: Context, errors: dict[str, list[str]]) -> None:
    department = command.data.get("department")
    if spec.action in ("transfer", "dispatch", "add_signer"):
        if ctx.known_departments is not None and department not in ctx.known_departments:
            errors.setdefault("data.department", []).append("Unknown department.")
        elif spec.departments is not None and department not in spec.departments:
            errors.setdefault("data.department", []).append(
                f"Choose one of: {', '.join(spec.departments)}.")
    if spec.action == "transfer" and state.assignment and department == state.assignment.department:
        errors.setdefault("data.department", []).append("The request is with this department already.")
    if spec.action == "add_signer" and state.countersign and department in state.countersign.required:
        errors.setdefault("data.department", []).append("This department is a signer already.")
    if spec.action == "remove_signer" and state.countersign:
        if department not in state.countersign.pending:
            errors.setdefault("data.department", []).append("Not a signer that has yet to sign.")
        elif len(state.countersign.required) <= 1:
            errors.setdefault("data.department", []).append("A countersign needs at least one signer.")
    if spec.action == "extend":
        limit = definition.clock.extension_max_days
        days = command.data.get("days")
        if isinstance(days, int) and days > limit:
            errors.setdefault("data.days", []).append(f"At most {limit} working days.")
    if spec.action == "dispatch" and spec.to in definition.steps:
        target = definition.step(spec.to)
        if target.assignee is None or target.assignee.department != CHOSEN:
            errors.setdefault("to", []).append("dispatch must lead to a step assigned to $chosen")


# --- applying and evolving ----------------------------------------------------------------------------------


def start(definition: ProcessDefinition, owner: str, at: datetime, data: Mapping[str, Any] | None = None
          ) -> tuple[RequestState, Event]:
    """A new request on the initial step, and its ``submit`` event."""
    event = Event(action=SUBMIT, at=at, actor_kind="resident", actor_id=owner, actor_department=None,
                  from_step=None, to_step=definition.initial_step, data=dict(data or {}))
    return evolve(definition, None, event), event


def apply(definition: ProcessDefinition, state: RequestState, command: Command, actor: EngineActor, at: datetime,
          ctx: Context) -> tuple[RequestState, Event]:
    """Check the action is legal for the step and the actor, and return the new state and its one event."""
    state = _as_of(state, ctx, at)
    spec = {spec.action: spec for spec in _specs(definition, state)}.get(command.action)
    if spec is None:
        raise IllegalAction(f"{command.action!r} is not possible in step {state.step!r}.",
                            allowed_actions(definition, state, actor, ctx, at))
    if not _qualifies(state, spec, actor):
        raise ActorNotAllowed(f"You may not {command.action} this request.")
    reason = _blocked(definition, state, spec, ctx, at)
    if reason is not None:
        raise IllegalAction(f"{command.action!r} is not possible now: {reason}.",
                            allowed_actions(definition, state, actor, ctx, at))
    data = _validate(definition, state, spec, command, ctx)
    event = Event(
        action=spec.action, at=at, actor_kind=actor.kind, actor_id=actor.id, actor_department=actor.department,
        from_step=state.step, to_step=_target(definition, state, spec, data, actor), comment=command.comment,
        data=data, public=spec.public,
    )
    return evolve(definition, state, event), event


def _target(definition: ProcessDefinition, state: RequestState, spec: ActionSpec, data: Mapping[str, Any],
            actor: EngineActor) -> str:
    if spec.action in ("countersign", "add_signer", "remove_signer"):
        _, result = _countersign_after(definition, state, spec.action, data, actor.department)
        return result or state.step
    if spec.to == SAME:
        return state.step
    if spec.to == PREVIOUS:
        return state.trail[-1]
    if spec.to == RETURN:
        assert state.return_to is not None
        return state.return_to
    return spec.to


def _countersign_after(definition: ProcessDefinition, state: RequestState, action: str, data: Mapping[str, Any],
                       actor_department: str | None) -> tuple[Countersign, str | None]:
    """The countersign after a signature or a change of signers, and the step it leads to once decided."""
    assert state.countersign is not None
    countersign = state.countersign
    if action == "countersign":
        countersign = replace(countersign, signatures=(
            *countersign.signatures, (str(actor_department), str(data["decision"]))))
    elif action == "add_signer":
        countersign = replace(countersign, required=(*countersign.required, str(data["department"])))
    else:
        countersign = replace(countersign, required=tuple(d for d in countersign.required
                                                          if d != data["department"]))
    return countersign, _countersign_result(definition.step(state.step), countersign)


def _countersign_result(step: StepSpec, countersign: Countersign) -> str | None:
    assert step.countersign is not None
    decisions = dict(countersign.signatures)
    agree = sum(1 for d in countersign.required if decisions.get(d) == "agree")
    disagree = sum(1 for d in countersign.required if decisions.get(d) == "disagree")
    if step.countersign.rule == "unanimous":
        if disagree:
            return step.countersign.on_rejected
        return step.countersign.on_approved if agree == len(countersign.required) else None
    if countersign.pending:
        return None
    return step.countersign.on_approved if agree > disagree else step.countersign.on_rejected


def evolve(definition: ProcessDefinition, state: RequestState | None, event: Event) -> RequestState:
    """The state after ``event``; pure and deterministic, so replaying events rebuilds a request."""
    if state is None:
        return _enter(definition, None, event.to_step, event)
    touched = state.touched or event.actor_kind == "staff"
    state = replace(state, touched=touched)
    action = event.action
    if action == "claim":
        step = definition.step(state.step)
        step_clock = state.step_clock
        if step_clock is None and step.clock_starts == "claim" and step.time_limit_working_days:
            step_clock = Clock.start(event.at, step.time_limit_working_days)
        return replace(state, claimed_by=event.actor_id, claimed_at=event.at, step_clock=step_clock)
    if action == "release":
        return replace(state, claimed_by=None, claimed_at=None)
    if action == "transfer":
        assert state.assignment is not None
        assignment = replace(state.assignment, department=event.data["department"])
        return replace(state, assignment=assignment, claimed_by=None, claimed_at=None,
                       step_assignments=state.remembering(state.step, assignment))
    if action == "supervise":
        return replace(state, supervised=True)
    if action == "extend":
        return replace(state, clock=state.clock.extend(event.at, event.data["days"], event.comment or ""))
    if action in ("countersign", "add_signer", "remove_signer"):
        countersign, result = _countersign_after(definition, state, action, event.data, event.actor_department)
        state = replace(state, countersign=countersign)
        return _enter(definition, state, result, event) if result else state
    if event.to_step == state.step and action not in ("reopen",):
        return state
    return _enter(definition, state, event.to_step, event)


def _enter(definition: ProcessDefinition, state: RequestState | None, target: str, event: Event) -> RequestState:
    step = definition.step(target)
    at = event.at
    if state is None:
        clock = Clock.start(at, definition.time_limit_working_days)
        trail: tuple[str, ...] = ()
        return_to = None
        asked = None
        touched = False
        supervised = False
    else:
        left = definition.step(state.step)
        clock = state.clock
        if clock.suspended:
            restart = event.action == "supplement" and definition.clock.supplement == "restart"
            clock = clock.restart(at) if restart else clock.resume(at)
        if left.terminal:  # reopen: the time limit counts again in full
            clock = replace(clock.restart(at), stopped_at=None)
        trail = state.trail
        if event.action == "send_back":
            trail = trail[:trail.index(target)] if target in trail else trail
        elif left.kind in ("task", "countersign") and step.kind != "resident":
            trail = (*trail, left.key)
        return_to = state.step if event.action == "request_materials" else (
            None if event.action == "supplement" else state.return_to)
        asked = tuple(event.data.get("items", ())) if event.action == "request_materials" else None
        touched = state.touched
        supervised = state.supervised and not step.terminal
    if step.clock == "paused":
        clock = clock.suspend(at, "supplement", "pause")
    elif step.clock == "excluded":
        clock = clock.suspend(at, step.key, "exclude")
    if step.terminal:
        clock = clock.stop(at)
    assignment = None
    remembered = state.remembered_assignment(target) if state else None
    if step.assignee is not None:
        if step.assignee.department == CHOSEN and event.action == "dispatch":
            assignment = Assignment(department=str(event.data["department"]), role=step.assignee.role)
        elif remembered is not None:
            assignment = remembered
        elif step.assignee.department != CHOSEN:
            assignment = Assignment(department=step.assignee.department, role=step.assignee.role)
    countersign = None
    if step.countersign is not None:
        required = step.countersign.departments
        if CHOSEN in required:
            chosen = tuple(event.data.get("departments", ()))
            required = tuple(d for d in required if d != CHOSEN) + chosen
        countersign = Countersign(required=required)
    step_clock = None
    if step.time_limit_working_days and step.clock_starts == "arrival":
        step_clock = Clock.start(at, step.time_limit_working_days)
    return RequestState(
        owner=state.owner if state else event.actor_id,
        step=target,
        status=definition.status_of(target, touched=touched),
        step_entered_at=at,
        clock=clock,
        step_clock=step_clock,
        assignment=assignment,
        claimed_by=None,
        claimed_at=None,
        countersign=countersign,
        return_to=return_to if step.kind == "resident" else None,
        trail=trail,
        asked=asked if step.kind == "resident" else None,
        outcome=dict(event.data) if step.terminal else None,
        touched=touched,
        supervised=supervised,
        step_assignments=state.remembering(target, assignment) if state else (
            ((target, assignment),) if assignment else ()),
    )


def replay(definition: ProcessDefinition, events: Iterable[Event]) -> RequestState:
    state: RequestState | None = None
    for event in events:
        state = evolve(definition, state, event)
    if state is None:
        raise ValueError("a request has at least its submit event")
    return state
