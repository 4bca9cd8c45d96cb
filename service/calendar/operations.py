"""Changes to the working-day calendar: seeding the official days, and the district's own overrides.

Each takes the actor, checks permission, writes the audit record and flushes; the caller commits.

Official and local days share one row per day. ``set_day`` makes the day's row local (replacing an official
one); ``clear_day`` removes the local override and restores what the official calendar says about that day,
if anything. Seeding never touches a local row, so an administrator's decision survives every re-seed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

import chinese_calendar
import sqlalchemy as sa
from chinese_calendar.constants import Holiday

from service.calendar import queries
from service.calendar.models import KINDS, CalendarDay
from service.calendar.permissions import can_manage_calendar
from service.core import audit
from service.core.auth import SYSTEM, Actor
from service.core.db import db, utcnow
from service.core.errors import Forbidden, NotFound, ValidationFailed

_CHINESE_NAMES = {holiday.value: holiday.chinese for holiday in Holiday}


@functools.cache
def _official_days() -> Mapping[date, tuple[str, str]]:
    """Every day the packaged official calendar overrides: day -> (kind, name)."""
    days: dict[date, tuple[str, str]] = {}
    for day, english in chinese_calendar.holidays.items():
        days[day] = ("holiday", _CHINESE_NAMES.get(english, english))
    for day, english in chinese_calendar.workdays.items():
        days[day] = ("workday", f"{_CHINESE_NAMES.get(english, english)}调休上班")
    return days


def official_years() -> list[int]:
    """The years the installed chinesecalendar knows (upgrade the package for a new year's notice)."""
    return sorted({day.year for day in _official_days()})


def _official(day: date) -> tuple[str, str] | None:
    return _official_days().get(day)


def _stamp() -> datetime:
    """A time later than every ``updated_at`` in the table: keeps the cache revision moving on every write
    (see :class:`service.calendar.queries._Cache`)."""
    latest = db.session.execute(sa.select(sa.func.max(CalendarDay.updated_at))).scalar()
    now = utcnow()
    return now if latest is None or now > latest else latest + timedelta(microseconds=1)


def _require_manager(actor: Actor) -> None:
    if not can_manage_calendar(actor):
        raise Forbidden("Only administrators change the working-day calendar.")


def seed_official(years: Iterable[int] | None = None, actor: Actor = SYSTEM) -> int:
    """Bring the official rows of ``years`` (default: every year the package knows) in line with the
    installed chinesecalendar; local rows are left alone. Returns how many rows were added, changed or
    removed: 0 when run again."""
    _require_manager(actor)
    year_set = set(years) if years is not None else set(official_years())
    wanted = {day: entry for day, entry in _official_days().items() if day.year in year_set}
    if not year_set:
        return 0
    existing = {
        row.day: row
        for row in db.session.execute(
            sa.select(CalendarDay).where(
                CalendarDay.day >= date(min(year_set), 1, 1), CalendarDay.day <= date(max(year_set), 12, 31)
            )
        ).scalars()
        if row.day.year in year_set
    }
    stamp = _stamp()
    added = changed = removed = 0
    for day, (kind, name) in sorted(wanted.items()):
        row = existing.get(day)
        if row is None:
            db.session.add(CalendarDay(day=day, kind=kind, name=name, source="official", updated_at=stamp))
            added += 1
        elif row.source == "official" and (row.kind, row.name) != (kind, name):
            row.kind, row.name, row.updated_at = kind, name, stamp
            changed += 1
    for day, row in existing.items():
        # A corrected package may drop a day; only our own copy of the official calendar follows it.
        if row.source == "official" and day not in wanted:
            db.session.delete(row)
            removed += 1
    total = added + changed + removed
    if total:
        audit.record(actor, "calendar.seeded", "calendar", "official",
                     {"years": sorted(year_set), "added": added, "changed": changed, "removed": removed})
        db.session.flush()
        queries.changed_in_session()
    return total


def set_day(actor: Actor, day: date, kind: str, name: str) -> CalendarDay:
    """Make ``day`` a local holiday, make-up working day or closure (replacing any official entry)."""
    _require_manager(actor)
    if kind not in KINDS:
        raise ValidationFailed("Unknown kind of day.", errors={"kind": [f"Choose from {', '.join(KINDS)}."]})
    row = db.session.get(CalendarDay, day)
    before = None if row is None else {"kind": row.kind, "name": row.name, "source": row.source}
    stamp = _stamp()
    if row is None:
        row = CalendarDay(day=day, kind=kind, name=name, source="local", updated_at=stamp)
        db.session.add(row)
    else:
        row.kind, row.name, row.source, row.updated_at = kind, name, "local", stamp
    audit.record(actor, "calendar.day_set", "calendar_day", day.isoformat(),
                 {"before": before, "after": {"kind": kind, "name": name, "source": "local"}})
    db.session.flush()
    queries.changed_in_session()
    return row


def clear_day(actor: Actor, day: date) -> None:
    """Remove the local override of ``day``; the official entry of that day, if any, applies again."""
    _require_manager(actor)
    row = db.session.get(CalendarDay, day)
    if row is None or row.source != "local":
        raise NotFound("This day has no local override.")
    before = {"kind": row.kind, "name": row.name, "source": row.source}
    official = _official(day)
    if official is None:
        db.session.delete(row)
        after = None
    else:
        row.kind, row.name, row.source, row.updated_at = official[0], official[1], "official", _stamp()
        after = {"kind": row.kind, "name": row.name, "source": "official"}
    audit.record(actor, "calendar.day_cleared", "calendar_day", day.isoformat(), {"before": before, "after": after})
    db.session.flush()
    queries.changed_in_session()
