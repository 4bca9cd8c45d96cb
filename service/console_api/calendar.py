"""The working-day calendar (工作日历): every staff member reads it and asks it for due dates; administrators
mark local holidays, make-up working days and closures."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from service.accounts.roles import roles_for
from service.calendar import operations, queries
from service.calendar.schemas import (
    CalendarDaySchema,
    CalendarDaySetSchema,
    CalendarListSchema,
    CalendarRangeArgs,
    DueArgs,
    DueSchema,
)
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.errors import ValidationFailed

PREFIX = "/calendar"
blp = Blueprint("console_calendar", __name__, description="Working days, holidays and make-up days.")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(value: str) -> date:
    if DAY.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationFailed("Not a valid day.", errors={"day": ["Not a valid date (YYYY-MM-DD)."]})


@blp.route("", methods=["GET"])
@staff_required()
@blp.arguments(CalendarRangeArgs, location="query")
@blp.response(200, CalendarListSchema)
def list_days(args: dict[str, Any]) -> Any:
    """Every day of the range, with whether it is a working day and why when it differs from Mon–Fri."""
    return {"items": queries.days_in_range(args["start"], args["end"]), "next_cursor": None}


@blp.route("/due", methods=["GET"])
@staff_required()
@blp.arguments(DueArgs, location="query")
@blp.response(200, DueSchema)
def due(args: dict[str, Any]) -> Any:
    """When a limit of `days` working days ends for something received at `received_at`."""
    return queries.due(args["received_at"], args["days"])


@blp.route("/<day>", methods=["PUT"])
@staff_required(*roles_for("calendar.manage"))
@blp.arguments(CalendarDaySetSchema)
@blp.response(200, CalendarDaySchema)
def set_day(body: dict[str, Any], day: str) -> Any:
    """Make the day a local holiday, make-up working day or closure (overrides the official entry)."""
    row = operations.set_day(current_actor(), _day(day), body["kind"], body["name"])
    return queries.get_day(row.day)


@blp.route("/<day>", methods=["DELETE"])
@staff_required(*roles_for("calendar.manage"))
@blp.response(204)
@blp.problem(404, "The day has no local override.")
def clear_day(day: str) -> Any:
    """Remove the local override; the official entry of the day, if any, applies again."""
    operations.clear_day(current_actor(), _day(day))
    return None
