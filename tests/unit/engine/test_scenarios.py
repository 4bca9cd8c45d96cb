"""Data-driven engine tests: each scenario file plays actors through a built-in process and states, step by
step, what must happen (new step, status, clock, or the refusal), the path of steps and the final due time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import yaml

from service.engine.clock import RuleCalendar
from service.engine.definition import load_definition
from service.engine.errors import ActorNotAllowed, IllegalAction, InvalidActionData
from service.engine.runtime import Command, Context, EngineActor, apply, replay, start
from service.processes.builtin import builtin_definition_data

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.yaml"))
TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = RuleCalendar(holidays=chinese_calendar.holidays, workdays=chinese_calendar.workdays)
DEPARTMENTS = {"district", "gov-office", "service-center", "housing", "urban", "market", "environment",
               "civil-affairs"}
ERRORS = {"forbidden": ActorNotAllowed, "illegal": IllegalAction, "invalid": InvalidActionData}
OWNER = "resident-1"


def actor(name: str) -> EngineActor:
    if name == "resident":
        return EngineActor(kind="resident", id=OWNER)
    if name == "stranger":
        return EngineActor(kind="resident", id="resident-2")
    department, role = name.rsplit("-", 1)
    return EngineActor(kind="staff", id=name, department=department, roles=frozenset({role}))


def check(state: Any, expect: dict[str, Any], where: str) -> None:
    actual = {
        "step": state.step,
        "status": state.status,
        "assignee": state.assignment.department if state.assignment else None,
        "claimed": state.claimed_by is not None,
        "suspended": state.clock.suspended,
        "supervised": state.supervised,
        "pending": list(state.countersign.pending) if state.countersign else None,
        "asked": len(state.asked) if state.asked else 0,
        "step_clock": state.step_clock is not None,
    }
    for key, value in expect.items():
        if key == "overdue":
            assert state.clock.is_overdue(CALENDAR, TZ, state.clock.stopped_at) is value, where
        else:
            assert actual[key] == value, f"{where}: {key} is {actual[key]!r}, expected {value!r}"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    scenario = yaml.safe_load(path.read_text(encoding="utf-8"))
    definition = load_definition(builtin_definition_data(scenario["process"]), DEPARTMENTS)
    ctx = Context(calendar=CALENDAR, tz=TZ, known_departments=DEPARTMENTS)
    at = datetime.fromisoformat(str(scenario["received_at"]))
    state, submitted = start(definition, OWNER, at)
    events = [submitted]
    for index, step in enumerate(scenario["steps"]):
        where = f"{path.stem} step {index + 1} ({step['as']} {step['do']})"
        at = datetime.fromisoformat(str(step["at"])) if "at" in step else at + timedelta(hours=1)
        command = Command(action=step["do"], comment=step.get("comment"), data=step.get("data", {}))
        if "error" in step:
            with pytest.raises(ERRORS[step["error"]]):
                apply(definition, state, command, actor(step["as"]), at, ctx)
            continue
        state, event = apply(definition, state, command, actor(step["as"]), at, ctx)
        assert (event.action, event.from_step, event.to_step) == (step["do"], events[-1].to_step, state.step), where
        events.append(event)
        check(state, step.get("expect", {}), where)

    path_taken = [events[0].to_step]
    for event in events[1:]:
        if event.to_step != path_taken[-1]:
            path_taken.append(event.to_step)
    assert path_taken == scenario["path"]
    assert replay(definition, events) == state
    if "due_at" in scenario:
        due = state.clock.due_at(CALENDAR, TZ, at)
        assert due == datetime.fromisoformat(str(scenario["due_at"]))
