"""Stateful property tests of the process engine: random legal and illegal action sequences on every built-in
process, with the engine's invariants checked after each attempt.

The scenario files (tests/unit/engine/scenarios) pin known paths; these machines look for the paths nobody wrote
down. Each attempt advances the clock, then an actor from a fixed pool (the owner, another resident, three staff
of every department) tries an action with data that is plausible for it, and the test checks that:

- an action is accepted iff ``allowed_actions`` lists it for that actor at that time and its data are valid
  (validity is judged from how the data were drawn, not by asking the engine);
- an accepted action gives exactly one event, from the old step to a step of the definition;
- a refused action leaves the state as it was;
- replaying the events (also after a JSON round trip) rebuilds the state, and the state survives its stored
  format;
- a terminal step's status is its outcome, and the clock's ledger matches the step (suspended in paused and
  excluded steps, stopped in terminal ones);
- the due date never moves earlier: not by entering a paused or excluded step, not by time passing, not by any
  accepted action;
- the request is always with a known department, and some staff member can act on it whenever it waits on staff.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import chinese_calendar
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from service.engine.clock import RuleCalendar
from service.engine.definition import SAME, ActionSpec, DataField, ProcessDefinition, load_definition
from service.engine.errors import ActorNotAllowed, IllegalAction, InvalidActionData
from service.engine.runtime import (
    Command,
    Context,
    EngineActor,
    Event,
    RequestState,
    allowed_actions,
    apply,
    evolve,
    replay,
    start,
)
from service.engine.serialize import event_from_dict, event_to_dict, state_from_dict, state_to_dict
from service.processes.builtin import BUILTIN_CODES, builtin_definition_data

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = RuleCalendar(holidays=chinese_calendar.holidays, workdays=chinese_calendar.workdays)
DEPARTMENTS = ("district", "gov-office", "service-center", "housing", "urban", "market", "environment",
               "civil-affairs")
CTX = Context(calendar=CALENDAR, tz=TZ, known_departments=frozenset(DEPARTMENTS))
DEFINITIONS = {code: load_definition(builtin_definition_data(code), DEPARTMENTS) for code in BUILTIN_CODES}

OWNER = "resident-1"
ACTORS: dict[str, EngineActor] = {
    "resident": EngineActor(kind="resident", id=OWNER),
    "stranger": EngineActor(kind="resident", id="resident-2"),
}
for _department in DEPARTMENTS:
    for _name, _role in (("handler", "handler"), ("handler-2", "handler"), ("supervisor", "supervisor")):
        _id = f"{_department}-{_name}"
        ACTORS[_id] = EngineActor(kind="staff", id=_id, department=_department, roles=frozenset({_role}))
STAFF = tuple(name for name, actor in ACTORS.items() if actor.kind == "staff")

# Task steps take claim and release without the definition naming them.
IMPLICIT = {"claim": ActionSpec(action="claim", to=SAME, public=False),
            "release": ActionSpec(action="release", to=SAME, public=False)}
NONSENSE = ("submit", "delete", "approve_all", "Reply", "")
SUSPENDING = ("paused", "excluded")

FIRST_MINUTE = datetime(2025, 1, 1, tzinfo=TZ)
LAST_MINUTE = int((datetime(2026, 12, 31, 23, 59, tzinfo=TZ) - FIRST_MINUTE).total_seconds() // 60)
# Minutes to several days between two attempts; shrinks towards "at once".
PAUSES = st.one_of(st.integers(0, 180), st.integers(180, 6 * 24 * 60))
TEXTS = ("已处理", "见附件", "不属于本部门职责")


def step_specs(definition: ProcessDefinition, state: RequestState) -> dict[str, ActionSpec]:
    step = definition.step(state.step)
    specs = {spec.action: spec for spec in step.actions}
    if step.kind == "task":
        for name, spec in IMPLICIT.items():
            specs.setdefault(name, spec)
    return specs


def action_names(definition: ProcessDefinition) -> tuple[str, ...]:
    named = sorted({spec.action for step in definition.steps.values() for spec in step.actions} | set(IMPLICIT))
    return (*named, *NONSENSE)


def any_spec(definition: ProcessDefinition, name: str) -> ActionSpec | None:
    for step in definition.steps.values():
        spec = step.action(name)
        if spec is not None:
            return spec
    return IMPLICIT.get(name)


def due(state: RequestState, now: datetime) -> date:
    return state.clock.due_date(CALENDAR, TZ, now)


# --- plausible data, and whether they are valid ----------------------------------------------------------------


def department_ok(state: RequestState, spec: ActionSpec, value: str) -> bool:
    if spec.action in ("transfer", "dispatch", "add_signer") and (
            value not in DEPARTMENTS or (spec.departments is not None and value not in spec.departments)):
        return False
    if spec.action == "transfer" and state.assignment is not None:
        return value != state.assignment.department
    if spec.action == "add_signer" and state.countersign is not None:
        return value not in state.countersign.required
    if spec.action == "remove_signer" and state.countersign is not None:
        return value in state.countersign.pending and len(state.countersign.required) > 1
    return True


def candidates(definition: ProcessDefinition, spec: ActionSpec, f: DataField) -> tuple[Any, ...]:
    """Plausible values for the field, from right to slightly wrong."""
    if f.name == "department":
        return (*DEPARTMENTS, "nowhere")
    if f.name == "days" and spec.action == "extend":
        return tuple(range(31))
    if f.enum is not None:
        return (*f.enum, "maybe")
    return {
        "string": (*TEXTS, "   ", 42),
        "integer": (*range(-2, 31), "3"),
        "boolean": (True, False, "yes"),
        "list": ([TEXTS[0]], list(TEXTS[:2]), [], "营业执照"),
        "object": ({"licence": ["a1"]}, {"description": "2025年度财政预算"}, {}, ["a1"]),
    }[f.type]


def value_ok(definition: ProcessDefinition, state: RequestState, spec: ActionSpec, f: DataField, value: Any,
             required: bool) -> bool:
    """Whether the engine must take ``value`` for the field, judged from the definition's data, not its code;
    ``required``: the field is required here (always, or by ``required_when``), so blank will not do."""
    if f.name == "department":
        return isinstance(value, str) and department_ok(state, spec, value)
    if f.name == "days" and spec.action == "extend":
        return isinstance(value, int) and 1 <= value <= definition.clock.extension_max_days
    if f.enum is not None:
        return value in f.enum
    if f.type == "string":
        return isinstance(value, str) and (bool(value.strip()) or not required) and (
            f.max_length is None or len(value) <= f.max_length)
    if f.type == "integer":
        return isinstance(value, int) and (f.minimum is None or value >= f.minimum) and (
            f.maximum is None or value <= f.maximum)
    if f.type == "boolean":
        return isinstance(value, bool)
    if f.type == "list":
        return isinstance(value, list) and (bool(value) or not required) and (
            f.max_length is None or len(value) <= f.max_length)
    return isinstance(value, dict)


@st.composite
def commands(draw: Callable[..., Any], definition: ProcessDefinition, state: RequestState, name: str
             ) -> tuple[Command, bool | None]:
    """A command for ``name`` with data plausible for it, and whether they are valid for the current step (None
    when the step has no such action, so that validity does not arise).

    Strict commands take only valid choices (as far as the state allows any); the others take any plausible
    choice, a missing field, a stray one, a blank comment. Both shrink towards the first, valid, choices."""
    here = step_specs(definition, state).get(name)
    spec = here or any_spec(definition, name)
    if spec is None:
        junk = draw(st.sampled_from(({}, {"note": "?"})))
        return Command(action=name, comment=draw(st.sampled_from((None, "为什么"))), data=junk), None
    strict = draw(st.sampled_from((True, True, False)), label="strict")
    ok = True
    data: dict[str, Any] = {}
    # Conditional fields last: whether they are required depends on the others.
    for f in sorted(spec.fields, key=lambda f: bool(f.required_when)):
        required = f.required or any(data.get(other) in values for other, values in f.required_when.items())
        presence = "value" if strict and required else draw(st.sampled_from(
            ("value", "value", "value", "absent", "null") if required else ("value", "absent", "null")))
        if presence == "value":
            pool = candidates(definition, spec, f)
            good = [v for v in pool if value_ok(definition, state, spec, f, v, required)]
            value = copy.deepcopy(draw(st.sampled_from(good if strict and good else pool)))
            data[f.name] = value
            ok = ok and value_ok(definition, state, spec, f, value, required)
        else:
            if presence == "null":
                data[f.name] = None
            ok = ok and not required
    if not strict and draw(st.booleans()):
        data["note"] = "多余的字段"
        ok = False
    if spec.comment_required:
        comment = draw(st.sampled_from(("理由如下",) if strict else ("理由如下", None, "   ")))
        ok = ok and comment is not None and bool(comment.strip())
    else:
        comment = draw(st.sampled_from((None, "备注", "   ")))
    return Command(action=name, comment=comment, data=data), ok if here is not None else None


# --- the machine ---------------------------------------------------------------------------------------------


class EngineMachine(RuleBasedStateMachine):
    """One request of ``code``'s process, driven by random attempts; subclasses choose the process."""

    code: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.definition = DEFINITIONS[self.code]
        self.names = action_names(self.definition)
        self.now = FIRST_MINUTE
        self.state: RequestState
        self.events: list[Event] = []
        self.accepted = 0
        self.due_seen: date

    @initialize(minute=st.integers(0, LAST_MINUTE))
    def submit(self, minute: int) -> None:
        self.now = FIRST_MINUTE + timedelta(minutes=minute)
        self.state, event = start(self.definition, OWNER, self.now)
        self.events = [event]
        self.due_seen = due(self.state, self.now)
        note(f"{self.now:%Y-%m-%d %H:%M %a} submitted: {self.state.step}, due {self.due_seen}")

    @rule(minutes=PAUSES, actor=st.sampled_from(tuple(ACTORS)), data=st.data())
    def attempt_anything(self, minutes: int, actor: str, data: st.DataObject) -> None:
        """Any actor, any action name of the definition (or claim, release, nonsense): mostly refused."""
        self.pass_time(minutes)
        self.attempt(actor, data.draw(st.sampled_from(self.names), label="action"), data)

    @rule(minutes=PAUSES, data=st.data())
    def attempt_allowed(self, minutes: int, data: st.DataObject) -> None:
        """An action ``allowed_actions`` offers to someone now, with data that may still be invalid."""
        self.pass_time(minutes)
        offered: dict[str, list[str]] = {}
        for actor in ACTORS:
            for action in allowed_actions(self.definition, self.state, ACTORS[actor], CTX, self.now):
                offered.setdefault(action, []).append(actor)
        if offered:
            # The action first, then who: otherwise what every staff member may do (claim) would crowd out the
            # rest. Actions that end the request weigh less, so that requests live on to the later steps.
            weighted = [action for action in sorted(offered) for _ in range(1 if self.ends(action) else 3)]
            action = data.draw(st.sampled_from(weighted), label="action")
            actor = data.draw(st.sampled_from(offered[action]), label="actor")
            self.attempt(actor, action, data)

    def ends(self, action: str) -> bool:
        spec = step_specs(self.definition, self.state)[action]
        return spec.to in self.definition.steps and self.definition.step(spec.to).terminal

    def pass_time(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        now_due = due(self.state, self.now)
        assert now_due >= self.due_seen, (
            f"time passing moved the due date earlier: {self.due_seen} -> {now_due} in {self.state.step}")
        self.due_seen = now_due

    def attempt(self, actor_name: str, action: str, data: st.DataObject) -> None:
        definition, before, now = self.definition, self.state, self.now
        actor = ACTORS[actor_name]
        command, valid = data.draw(commands(definition, before, action), label="command, valid")
        snapshot = copy.deepcopy(before)
        stored = state_to_dict(before)
        allowed = allowed_actions(definition, before, actor, CTX, now)
        exists = action in step_specs(definition, before)
        what = f"{now:%Y-%m-%d %H:%M %a} {actor_name} {action!r} comment={command.comment!r} data={command.data}"
        refusal: IllegalAction | ActorNotAllowed | InvalidActionData | None = None
        try:
            result = apply(definition, before, command, actor, now, CTX)
        except (IllegalAction, ActorNotAllowed, InvalidActionData) as error:
            refusal = error
        if refusal is not None:
            note(f"{what} -> refused ({type(refusal).__name__}) in {before.step}")
            assert self.state == snapshot, "a refusal changed the state"
            assert state_to_dict(self.state) == stored, "a refusal changed the state"
            if isinstance(refusal, InvalidActionData):
                assert action in allowed, f"{action!r} is not allowed to {actor_name}, yet its data were judged"
                assert valid is not True, f"valid data refused: {refusal.errors}"
            else:
                assert action not in allowed, f"{action!r} is allowed to {actor_name}, yet refused: {refusal}"
            if isinstance(refusal, IllegalAction):
                assert refusal.allowed == allowed
            if not exists:
                assert isinstance(refusal, IllegalAction), f"{action!r} is not in {before.step}: must be 409"
            return

        # Exactly one event per accepted action: the new state and one Event, nothing else.
        assert len(result) == 2
        assert isinstance(result[1], Event)
        after, event = result
        note(f"{what} -> {event.from_step} -> {event.to_step}")
        assert action in allowed, f"{action!r} accepted though allowed_actions offers {allowed}"
        assert valid is not False, f"invalid data accepted: comment={command.comment!r} data={command.data}"
        assert (event.action, event.at, event.actor_id) == (action, now, actor.id)
        assert event.from_step == before.step
        assert event.to_step == after.step
        assert after.step in definition.steps
        assert event.data == {k: v for k, v in command.data.items() if v is not None}
        assert event.public == step_specs(definition, before)[action].public
        assert evolve(definition, before, event) == after

        due_before, due_after = due(before, now), due(after, now)
        if definition.step(after.step).clock in SUSPENDING:
            assert due_after >= due_before, (
                f"entering {after.step} moved the due date earlier: {due_before} -> {due_after}")
        assert due_after >= due_before, f"{action!r} moved the due date earlier: {due_before} -> {due_after}"

        self.state = after
        self.events.append(event)
        self.accepted += 1
        self.due_seen = due_after

    # --- invariants ------------------------------------------------------------------------------------------

    @invariant()
    def one_event_per_accepted_action(self) -> None:
        """The submit event and one per accepted action: no more is needed to rebuild the state (next)."""
        assert len(self.events) == self.accepted + 1

    @invariant()
    def replaying_the_events_rebuilds_the_state(self) -> None:
        assert replay(self.definition, self.events) == self.state
        stored = [event_from_dict(json.loads(json.dumps(event_to_dict(e)))) for e in self.events]
        assert replay(self.definition, stored) == self.state

    @invariant()
    def the_state_survives_its_stored_format(self) -> None:
        assert state_from_dict(state_to_dict(self.state)) == self.state
        assert state_from_dict(json.loads(json.dumps(state_to_dict(self.state)))) == self.state

    @invariant()
    def status_and_clock_match_the_step(self) -> None:
        step = self.definition.step(self.state.step)
        if step.terminal:
            assert self.state.status == step.outcome
            assert self.state.clock.stopped_at is not None
            assert not self.state.clock.suspended
        else:
            assert self.state.status != step.outcome
            assert self.state.clock.stopped_at is None
            assert self.state.clock.suspended == (step.clock in SUSPENDING), (
                f"clock suspended={self.state.clock.suspended} in {step.key} (clock {step.clock})")

    @invariant()
    def someone_can_act(self) -> None:
        """A request waiting on staff is with a known department and some staff member can move it on."""
        step = self.definition.step(self.state.step)
        if self.state.assignment is not None:
            assert self.state.assignment.department in DEPARTMENTS, (
                f"{step.key} is assigned to unknown department {self.state.assignment.department!r}")
        if step.terminal:
            return
        if step.kind == "resident":
            assert allowed_actions(self.definition, self.state, ACTORS["resident"], CTX, self.now)
            return
        assert any(allowed_actions(self.definition, self.state, ACTORS[s], CTX, self.now) for s in STAFF), (
            f"nobody on staff can act in {step.key} (assignment {self.state.assignment})")


# About 40 random requests of up to 30 attempts per process keep the whole file within a few seconds.
FAST = settings(max_examples=40, stateful_step_count=30, deadline=None)


@FAST
class DisclosureMachine(EngineMachine):
    code = "disclosure"


@FAST
class ComplaintMachine(EngineMachine):
    code = "complaint"


@FAST
class RepairMachine(EngineMachine):
    code = "repair"


@FAST
class PermitMachine(EngineMachine):
    code = "permit"


@FAST
class ConsultationMachine(EngineMachine):
    code = "consultation"


TestDisclosure = DisclosureMachine.TestCase
TestComplaint = ComplaintMachine.TestCase
TestRepair = RepairMachine.TestCase
TestPermit = PermitMachine.TestCase
TestConsultation = ConsultationMachine.TestCase


def test_every_builtin_process_has_a_machine() -> None:
    assert {m.code for m in EngineMachine.__subclasses__()} == set(BUILTIN_CODES)
