"""Stored request states: the current format round-trips, and an older format is upgraded by chained steps."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from service.engine.definition import load_definition
from service.engine.runtime import Assignment, Command, Context, EngineActor, apply, start
from service.engine.serialize import STATE_FORMAT, state_from_dict, state_to_dict, upgrade_state_dict
from service.processes.builtin import builtin_definition_data
from tests.unit.engine.test_scenarios import CALENDAR

TZ = ZoneInfo("Asia/Shanghai")


def dispatched_complaint():
    definition = load_definition(builtin_definition_data("complaint"))
    state, _ = start(definition, "r1", datetime(2026, 3, 2, 9, tzinfo=TZ))
    center = EngineActor(kind="staff", id="c", department="service-center", roles=frozenset({"handler"}))
    state, _ = apply(definition, state, Command("dispatch", data={"department": "urban"}), center,
                     datetime(2026, 3, 2, 10, tzinfo=TZ), Context(CALENDAR, TZ))
    return state


def test_round_trip_through_json() -> None:
    state = dispatched_complaint()
    stored = json.loads(json.dumps(state_to_dict(state)))
    assert stored["format"] == STATE_FORMAT
    assert state_from_dict(stored) == state


def test_format_1_is_upgraded() -> None:
    state = dispatched_complaint()
    old = state_to_dict(state)
    old["format"] = 1
    del old["step_assignments"]
    upgraded = upgrade_state_dict(old)
    assert upgraded["format"] == STATE_FORMAT
    assert upgraded["step_assignments"] == [["handling", {"department": "urban", "role": "handler"}]]
    restored = state_from_dict(old)
    assert restored.remembered_assignment("handling") == Assignment("urban", "handler")
    # format 1 never knew where the earlier steps were; everything else reads back unchanged
    assert restored.remembered_assignment("intake") is None
    assert replace(restored, step_assignments=state.step_assignments) == state


def test_format_2_claims_are_kept_without_a_time() -> None:
    state = dispatched_complaint()
    old = state_to_dict(state)
    old["format"] = 2
    del old["claimed_at"]
    old["claimed_by"] = "officer-1"
    restored = state_from_dict(old)
    assert (restored.claimed_by, restored.claimed_at) == ("officer-1", None)
