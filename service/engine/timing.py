"""How long each step of a request took, and whether that time was handling or waiting (on the resident or on
a third party), from its events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from service.engine.clock import WorkingCalendar, local_day, working_days_between
from service.engine.definition import ProcessDefinition
from service.engine.runtime import Event


@dataclass(frozen=True)
class StepVisit:
    step: str
    entered_at: datetime
    left_at: datetime | None  # None while the request still stands on it
    waiting: str | None  # "resident", "third_party", or None: time the department spent handling
    seconds: float
    working_days: int  # working days after the day of entry, up to the day it was left (or now)


def step_visits(definition: ProcessDefinition, events: Iterable[Event], calendar: WorkingCalendar, tz: tzinfo,
                now: datetime) -> list[StepVisit]:
    """One visit per stay on a step, in order; staying actions (claim, transfer, …) do not end a visit."""
    visits: list[StepVisit] = []
    current: tuple[str, datetime] | None = None

    def close(step: str, entered: datetime, left: datetime | None) -> None:
        spec = definition.step(step)
        if spec.terminal:
            return
        end = left or now
        waiting = "resident" if spec.kind == "resident" else "third_party" if spec.clock == "excluded" else None
        visits.append(StepVisit(step=step, entered_at=entered, left_at=left, waiting=waiting,
                                seconds=max(0.0, (end - entered).total_seconds()),
                                working_days=working_days_between(calendar, local_day(entered, tz),
                                                                  local_day(end, tz))))

    for event in events:
        if current is None:
            current = (event.to_step, event.at)
            continue
        if event.to_step != current[0] or event.action == "reopen":
            close(current[0], current[1], event.at)
            current = (event.to_step, event.at)
    if current is not None:
        close(current[0], current[1], None)
    return visits


@dataclass(frozen=True)
class TimeSplit:
    handling_seconds: float
    resident_seconds: float
    third_party_seconds: float


def time_split(visits: Iterable[StepVisit]) -> TimeSplit:
    handling = resident = third_party = 0.0
    for visit in visits:
        if visit.waiting == "resident":
            resident += visit.seconds
        elif visit.waiting == "third_party":
            third_party += visit.seconds
        else:
            handling += visit.seconds
    return TimeSplit(handling, resident, third_party)
