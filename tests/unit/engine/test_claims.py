"""Claims (签收): one officer holds a step until they act, release it, or the claim lapses."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.engine.definition import load_definition
from service.engine.errors import ActorNotAllowed, IllegalAction
from service.engine.runtime import Command, Context, EngineActor, allowed_actions, apply, claim_expires_at, start
from service.processes.builtin import builtin_definition_data
from tests.unit.engine.test_scenarios import CALENDAR

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, tzinfo=TZ)
FIRST = EngineActor(kind="staff", id="first", department="urban", roles=frozenset({"handler"}))
SECOND = EngineActor(kind="staff", id="second", department="urban", roles=frozenset({"handler"}))
CTX = Context(CALENDAR, TZ, claim_timeout=timedelta(hours=24))


def claimed():
    definition = load_definition(builtin_definition_data("repair"))
    state, _ = start(definition, "r1", T0)
    state, _ = apply(definition, state, Command("claim"), FIRST, T0 + timedelta(hours=1), CTX)
    return definition, state


def test_a_claim_holds_the_step_for_its_officer():
    definition, state = claimed()
    assert claim_expires_at(state, CTX) == T0 + timedelta(hours=25)
    assert allowed_actions(definition, state, SECOND, CTX, T0 + timedelta(hours=2)) == []
    with pytest.raises(ActorNotAllowed):
        apply(definition, state, Command("accept"), SECOND, T0 + timedelta(hours=2), CTX)
    with pytest.raises(IllegalAction):
        apply(definition, state, Command("claim"), FIRST, T0 + timedelta(hours=2), CTX)


def test_a_lapsed_claim_frees_the_step():
    definition, state = claimed()
    later = T0 + timedelta(hours=26)
    assert "claim" in allowed_actions(definition, state, SECOND, CTX, later)
    assert "release" not in allowed_actions(definition, state, FIRST, CTX, later)
    state, _ = apply(definition, state, Command("claim"), SECOND, later, CTX)
    assert (state.claimed_by, state.claimed_at) == ("second", later)


def test_without_a_timeout_claims_do_not_lapse():
    definition, state = claimed()
    forever = Context(CALENDAR, TZ)
    assert claim_expires_at(state, forever) is None
    assert allowed_actions(definition, state, SECOND, forever, T0 + timedelta(days=30)) == []
