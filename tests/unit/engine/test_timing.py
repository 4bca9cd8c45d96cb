"""Step durations from events: handling time versus time waiting on the resident or a third party."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from service.engine.clock import RuleCalendar
from service.engine.definition import load_definition
from service.engine.runtime import Command, Context, EngineActor, apply, start
from service.engine.timing import step_visits, time_split
from service.processes.builtin import builtin_definition_data

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = RuleCalendar(holidays=chinese_calendar.holidays, workdays=chinese_calendar.workdays)
HANDLER = EngineActor(kind="staff", id="h", department="gov-office", roles=frozenset({"handler"}))


def test_disclosure_visits_split_handling_and_waiting() -> None:
    definition = load_definition(builtin_definition_data("disclosure"))
    ctx = Context(calendar=CALENDAR, tz=TZ)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)  # Monday
    state, submitted = start(definition, "r1", t0)
    events = [submitted]
    owner = EngineActor(kind="resident", id="r1")
    script = [
        (HANDLER, Command("request_materials", data={"items": ["身份证明"]}), t0 + timedelta(hours=2)),
        (owner, Command("supplement", data={"answers": {"x": "y"}}), t0 + timedelta(days=2, hours=2)),
        (HANDLER, Command("accept"), t0 + timedelta(days=2, hours=3)),
        (HANDLER, Command("claim"), t0 + timedelta(days=2, hours=4)),
        (HANDLER, Command("consult_third_party"), t0 + timedelta(days=3, hours=3)),
        (HANDLER, Command("record_opinion"), t0 + timedelta(days=8, hours=3)),
        (HANDLER, Command("reply", data={"outcome": "public"}), t0 + timedelta(days=9, hours=3)),
    ]
    for actor, command, at in script:
        state, event = apply(definition, state, command, actor, at, ctx)
        events.append(event)

    visits = step_visits(definition, events, CALENDAR, TZ, t0 + timedelta(days=30))
    assert [(v.step, v.waiting) for v in visits] == [
        ("registration", None), ("supplement", "resident"), ("registration", None),
        ("handling", None), ("third_party_opinion", "third_party"), ("handling", None),
    ]
    # claiming does not end the stay on "handling": it is one visit from accept to the consultation
    assert visits[3].seconds == timedelta(hours=24).total_seconds()
    # Wed 4 Mar 11:00 → Mon 9 Mar 11:00 (third party): Thu, Fri, Mon = 3 working days after the day of entry
    assert visits[4].working_days == 3
    split = time_split(visits)
    assert split.resident_seconds == timedelta(days=2).total_seconds()
    assert split.third_party_seconds == timedelta(days=5).total_seconds()
    assert split.handling_seconds == timedelta(hours=2 + 1 + 24 + 24).total_seconds()


def test_a_running_request_counts_up_to_now() -> None:
    definition = load_definition(builtin_definition_data("repair"))
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
    _, submitted = start(definition, "r1", t0)
    visits = step_visits(definition, [submitted], CALENDAR, TZ, t0 + timedelta(days=1))
    assert len(visits) == 1
    assert visits[0].left_at is None
    assert visits[0].seconds == 86400
    assert visits[0].working_days == 1
