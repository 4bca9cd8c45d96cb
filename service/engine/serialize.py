"""Stored formats of request states and events: JSON-safe dicts carrying a ``format`` number.

A stored state written by an older format is upgraded by a chain of small steps (``_UPGRADES``), never
rewritten in place, so every state the database holds can still be read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from service.engine.clock import Clock
from service.engine.runtime import Assignment, Countersign, Event, RequestState

STATE_FORMAT = 3


def _format_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 remembers each step's department; a format-1 state knew only the current step's."""
    assignment = data.get("assignment")
    return {**data, "format": 2, "step_assignments": [[data["step"], assignment]] if assignment else []}


def _format_2_to_3(data: dict[str, Any]) -> dict[str, Any]:
    """Format 3 knows when a claim was made, so that claims lapse; a format-2 claim has no time and holds
    until released or acted on, as it did before."""
    return {**data, "format": 3, "claimed_at": None}


# format n -> a function turning a format-n dict into a format-(n+1) dict
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _format_1_to_2, 2: _format_2_to_3}


def state_to_dict(state: RequestState) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "owner": state.owner,
        "step": state.step,
        "status": state.status,
        "step_entered_at": state.step_entered_at.isoformat(),
        "clock": state.clock.to_dict(),
        "step_clock": state.step_clock.to_dict() if state.step_clock else None,
        "assignment": {"department": state.assignment.department, "role": state.assignment.role}
        if state.assignment else None,
        "claimed_by": state.claimed_by,
        "claimed_at": state.claimed_at.isoformat() if state.claimed_at else None,
        "countersign": {"required": list(state.countersign.required),
                        "signatures": [list(s) for s in state.countersign.signatures]}
        if state.countersign else None,
        "return_to": state.return_to,
        "trail": list(state.trail),
        "asked": list(state.asked) if state.asked is not None else None,
        "outcome": dict(state.outcome) if state.outcome is not None else None,
        "touched": state.touched,
        "supervised": state.supervised,
        "step_assignments": [[step, {"department": a.department, "role": a.role}]
                             for step, a in state.step_assignments],
    }


def upgrade_state_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    upgraded = dict(data)
    while upgraded.get("format", 1) < STATE_FORMAT:
        upgraded = _UPGRADES[upgraded.get("format", 1)](upgraded)
    if upgraded.get("format", 1) != STATE_FORMAT:
        raise ValueError(f"unknown state format {upgraded.get('format')!r}")
    return upgraded


def state_from_dict(raw: Mapping[str, Any]) -> RequestState:
    data = upgrade_state_dict(raw)
    countersign = data["countersign"]
    return RequestState(
        owner=data["owner"],
        step=data["step"],
        status=data["status"],
        step_entered_at=datetime.fromisoformat(data["step_entered_at"]),
        clock=Clock.from_dict(data["clock"]),
        step_clock=Clock.from_dict(data["step_clock"]) if data["step_clock"] else None,
        assignment=Assignment(**data["assignment"]) if data["assignment"] else None,
        claimed_by=data["claimed_by"],
        claimed_at=datetime.fromisoformat(data["claimed_at"]) if data["claimed_at"] else None,
        countersign=Countersign(required=tuple(countersign["required"]),
                                signatures=tuple((d, s) for d, s in countersign["signatures"]))
        if countersign else None,
        return_to=data["return_to"],
        trail=tuple(data["trail"]),
        asked=tuple(data["asked"]) if data["asked"] is not None else None,
        outcome=data["outcome"],
        touched=data["touched"],
        supervised=data["supervised"],
        step_assignments=tuple((step, Assignment(**a)) for step, a in data["step_assignments"]),
    )


def event_to_dict(event: Event) -> dict[str, Any]:
    return {
        "action": event.action, "at": event.at.isoformat(), "actor_kind": event.actor_kind,
        "actor_id": event.actor_id, "actor_department": event.actor_department, "from_step": event.from_step,
        "to_step": event.to_step, "comment": event.comment, "data": dict(event.data), "public": event.public,
    }


def event_from_dict(data: Mapping[str, Any]) -> Event:
    return Event(**{**data, "at": datetime.fromisoformat(data["at"])})
