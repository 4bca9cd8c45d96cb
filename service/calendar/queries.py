"""Reads of the working-day calendar, and the cached :class:`RuleCalendar` the clock reads it through."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from service.calendar.models import NON_WORKING_KINDS, CalendarDay
from service.core.db import db
from service.engine.clock import Clock, RuleCalendar, receipt_day

# How long a process trusts its cached calendar before asking the database whether it changed.
REFRESH_SECONDS = 5.0
_CACHE_KEY = "civicdesk_calendar"
# Set on a session that wrote calendar rows: until it ends, its own uncommitted view is never cached.
_DIRTY_KEY = "civicdesk_calendar_dirty"

Revision = tuple[int, datetime | None]


@dataclass
class _Cache:
    """One per app (so per gunicorn worker), shared by the worker's threads.

    Why this is correct with several workers: each worker keeps its own copy, stamped with the table's
    *revision*, ``(count(*), max(updated_at))``. Every write changes it: inserts and deletes change the count,
    and an update stamps its row with a time later than any in the table (``operations._stamp``), so the
    maximum moves even if a clock went backwards. At most every ``CALENDAR_REFRESH_SECONDS`` a worker compares
    the revision (one aggregate over a few hundred rows) and reloads on any difference; the worker that made
    the change checks at once. The revision is read *before* the rows, so a cached calendar is never older
    than its stamp, and a commit racing with the load is caught at the next check. Rolled-back writes never
    reach the cache: a session that wrote calendar rows builds its calendar fresh instead.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    calendar: RuleCalendar | None = None
    revision: Revision | None = None
    checked_at: float = -math.inf


def _cache() -> _Cache:
    cache: _Cache = current_app.extensions.setdefault(_CACHE_KEY, _Cache())
    return cache


def _revision() -> Revision:
    count, latest = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(CalendarDay.updated_at)).select_from(CalendarDay)
    ).one()
    return int(count), latest


def _build() -> RuleCalendar:
    rows = db.session.execute(sa.select(CalendarDay.day, CalendarDay.kind)).all()
    return RuleCalendar(holidays=[day for day, kind in rows if kind in NON_WORKING_KINDS],
                        workdays=[day for day, kind in rows if kind == "workday"])


def load_calendar() -> RuleCalendar:
    """The working-day calendar as stored, cached per process (see :class:`_Cache`)."""
    if db.session.info.get(_DIRTY_KEY):
        return _build()
    cache = _cache()
    refresh = float(current_app.config.get("CALENDAR_REFRESH_SECONDS", REFRESH_SECONDS))
    now = time.monotonic()
    with cache.lock:
        if cache.calendar is not None and now - cache.checked_at < refresh:
            return cache.calendar
    revision = _revision()
    with cache.lock:
        if cache.calendar is not None and cache.revision == revision:
            cache.checked_at = now
            return cache.calendar
    calendar = _build()
    with cache.lock:
        cache.calendar, cache.revision, cache.checked_at = calendar, revision, now
    return calendar


def changed_in_session() -> None:
    """Called by the operations after a write: this session bypasses the cache, and this process compares
    revisions on its next read instead of waiting for the refresh interval."""
    db.session.info[_DIRTY_KEY] = True
    cache = _cache()
    with cache.lock:
        cache.checked_at = -math.inf


def time_zone() -> ZoneInfo:
    """The zone deadlines are counted in (``TIME_ZONE``, Asia/Shanghai by default)."""
    return ZoneInfo(current_app.config["TIME_ZONE"])


@dataclass(frozen=True)
class CalendarEntry:
    """A day as the console shows it: ``kind``, ``name`` and ``source`` only when a row overrides the rule."""

    day: date
    is_working_day: bool
    kind: str | None = None
    name: str | None = None
    source: str | None = None


def days_in_range(start: date, end: date) -> list[CalendarEntry]:
    """Every day from ``start`` to ``end``, both included."""
    rows = {
        row.day: row
        for row in db.session.execute(
            sa.select(CalendarDay).where(CalendarDay.day >= start, CalendarDay.day <= end)
        ).scalars()
    }
    entries = []
    day = start
    while day <= end:
        row = rows.get(day)
        if row is None:
            entries.append(CalendarEntry(day, day.weekday() < 5))
        else:
            entries.append(CalendarEntry(day, row.is_working_day, row.kind, row.name, row.source))
        day += timedelta(days=1)
    return entries


def get_day(day: date) -> CalendarEntry:
    return days_in_range(day, day)[0]


@dataclass(frozen=True)
class DueDate:
    receipt_day: date
    due_at: datetime


def due(received_at: datetime, days: int) -> DueDate:
    """When a limit of ``days`` working days ends for something received at ``received_at``."""
    calendar = load_calendar()
    tz = time_zone()
    clock = Clock.start(received_at, days)
    return DueDate(receipt_day(calendar, received_at, tz), clock.due_at(calendar, tz, received_at))
