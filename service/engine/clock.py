"""The working-day clock (办理时限): legal time limits counted in working days, with a ledger of pauses,
excluded periods, extensions and restarts.

Pure Python on purpose: the calendar comes in through :class:`WorkingCalendar`, the time zone and "now" as
arguments, so the same clock runs in the request runtime, in reports and in tests without a database.

The rules (docs/calendar.md has a worked example):

- a request received on a non-working day counts as received on the next working day (the *receipt day*);
- the receipt day itself is not counted; the limit ends at 23:59:59 local time of the N-th working day after it;
- a suspension (``pause``: waiting on the resident; ``exclude``: time the law does not count, such as a third
  party's opinion or an expert review) skips the working days after the day it began up to and including the
  day it ended; while it is open it runs to "now", so the due date reads as if the clock resumed now;
- an extension adds working days; a restart counts the whole budget again from the receipt day of the restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

SUSPENSION_KINDS = ("pause", "exclude")
SERIAL_VERSION = 1

# No real calendar goes ten years without a working day; a calendar that does is broken, and the loops below
# would otherwise never end.
_MAX_IDLE_DAYS = 3660
_ONE_DAY = timedelta(days=1)
_REMEMBERED_DATES = 4096


class WorkingCalendar(Protocol):
    def is_working_day(self, day: date) -> bool: ...


class RuleCalendar:
    """Mon–Fri are working days, except ``holidays`` (incl. local closures); Sat/Sun are not, except
    ``workdays`` (make-up days, 调休上班). A day in both sets is not a working day.

    Its days never change once built, so it remembers the dates :func:`add_working_days` counted with nothing
    skipped: every action computes the due dates of its request and step, mostly from a few receipt days with
    the same few limits.
    """

    __slots__ = ("_after", "holidays", "workdays")

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self.holidays: frozenset[date] = frozenset(holidays)
        self.workdays: frozenset[date] = frozenset(workdays)
        self._after: dict[tuple[date, int], date] = {}

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        return day.weekday() < 5

    def working_day_after(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (:func:`add_working_days` with nothing skipped)."""
        if n < 0:
            raise ValueError(f"cannot add a negative number of working days ({n})")
        key = (start, n)
        day = self._after.get(key)
        if day is None:
            if len(self._after) >= _REMEMBERED_DATES:
                self._after.clear()
            day = self._after[key] = _add_working_days(self, start, n, ())
        return day

    def __repr__(self) -> str:
        return f"RuleCalendar({len(self.holidays)} holidays, {len(self.workdays)} workdays)"


def _require_aware(instant: datetime, name: str = "instant") -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {instant!r}")


def local_day(instant: datetime, tz: tzinfo) -> date:
    """The calendar day of ``instant`` in ``tz``."""
    _require_aware(instant)
    return instant.astimezone(tz).date()


def receipt_day(calendar: WorkingCalendar, instant: datetime, tz: tzinfo) -> date:
    """The local day of ``instant``, moved forward to the next working day if it is not one."""
    day = local_day(instant, tz)
    for _ in range(_MAX_IDLE_DAYS):
        if calendar.is_working_day(day):
            return day
        day += _ONE_DAY
    raise ValueError(f"no working day within {_MAX_IDLE_DAYS} days of {local_day(instant, tz)}")


def _merged(skip: Sequence[tuple[date, date]]) -> list[tuple[date, date]]:
    """The half-open ranges (a, b] merged and sorted; empty ones dropped."""
    ranges = sorted((a, b) for a, b in skip if b > a)
    merged: list[tuple[date, date]] = []
    for a, b in ranges:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def add_working_days(calendar: WorkingCalendar, start: date, n: int,
                     skip: Sequence[tuple[date, date]] = ()) -> date:
    """The n-th counted working day after ``start`` (``start`` itself is not counted).

    A working day ``d`` with ``a < d <= b`` for some ``(a, b)`` in ``skip`` is not counted. ``n == 0`` gives
    ``start``. Raises ValueError for a negative ``n`` or when no working day comes for about ten years.
    """
    if n < 0:
        raise ValueError(f"cannot add a negative number of working days ({n})")
    if not skip and isinstance(calendar, RuleCalendar):
        return calendar.working_day_after(start, n)
    return _add_working_days(calendar, start, n, skip)


def _add_working_days(calendar: WorkingCalendar, start: date, n: int, skip: Sequence[tuple[date, date]]) -> date:
    ranges = _merged(skip)
    index = 0
    day = start
    counted = 0
    idle = 0
    while counted < n:
        day += _ONE_DAY
        while index < len(ranges) and ranges[index][1] < day:
            index += 1
        if index < len(ranges) and ranges[index][0] < day <= ranges[index][1]:
            # Jump over the whole skipped range: its length is not the calendar's fault.
            day = ranges[index][1]
            continue
        if calendar.is_working_day(day):
            counted += 1
            idle = 0
        else:
            idle += 1
            if idle > _MAX_IDLE_DAYS:
                raise ValueError(f"no working day within {_MAX_IDLE_DAYS} days after {day - timedelta(idle)}")
    return day


def working_days_between(calendar: WorkingCalendar, start: date, end: date,
                         skip: Sequence[tuple[date, date]] = ()) -> int:
    """How many counted working days ``d`` there are with ``start < d <= end`` (0 if ``end <= start``)."""
    if end <= start:
        return 0
    ranges = _merged(skip)
    count = 0
    day = start + _ONE_DAY
    while day <= end:
        if calendar.is_working_day(day) and not any(a < day <= b for a, b in ranges):
            count += 1
        day += _ONE_DAY
    return count


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """23:59:59 local time of ``day``, aware."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


@dataclass(frozen=True)
class Suspension:
    """One entry of the ledger: a pause (waiting on the resident) or an excluded period (third party, expert)."""

    reason: str
    kind: str
    started_at: datetime
    ended_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in SUSPENSION_KINDS:
            raise ValueError(f"suspension kind must be one of {SUSPENSION_KINDS}, got {self.kind!r}")
        _require_aware(self.started_at, "started_at")
        if self.ended_at is not None:
            _require_aware(self.ended_at, "ended_at")
            if self.ended_at < self.started_at:
                raise ValueError("a suspension cannot end before it started")


@dataclass(frozen=True)
class Extension:
    days: int
    reason: str
    at: datetime

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"an extension adds at least one working day, got {self.days}")
        _require_aware(self.at, "at")


def _iso(instant: datetime) -> str:
    # Stored in UTC: one unambiguous spelling, whatever zone the caller used.
    return instant.astimezone(UTC).isoformat()


def _parse(value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    _require_aware(instant, "stored timestamp")
    return instant


@dataclass(frozen=True)
class Clock:
    """A time budget in working days and its ledger; immutable: every change returns a new Clock."""

    started_at: datetime
    budget_days: int
    suspensions: tuple[Suspension, ...] = ()
    extensions: tuple[Extension, ...] = ()
    restarts: tuple[datetime, ...] = ()
    stopped_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.started_at, "started_at")
        if self.budget_days < 0:
            raise ValueError(f"budget_days cannot be negative, got {self.budget_days}")
        if self.stopped_at is not None:
            _require_aware(self.stopped_at, "stopped_at")
        if sum(1 for s in self.suspensions if s.ended_at is None) > 1:
            raise ValueError("at most one suspension can be open")

    # --- changes ---------------------------------------------------------------------------------------

    @classmethod
    def start(cls, at: datetime, budget_days: int) -> Clock:
        return cls(started_at=at, budget_days=budget_days)

    @property
    def suspended(self) -> bool:
        """An open suspension exists."""
        return any(s.ended_at is None for s in self.suspensions)

    @property
    def open_suspension(self) -> Suspension | None:
        return next((s for s in self.suspensions if s.ended_at is None), None)

    def _check_running(self, at: datetime, what: str) -> None:
        _require_aware(at, "at")
        if self.stopped_at is not None:
            raise ValueError(f"cannot {what}: the clock is stopped")
        if at < self.started_at:
            raise ValueError(f"cannot {what} before the clock started")

    def suspend(self, at: datetime, reason: str, kind: str = "pause") -> Clock:
        self._check_running(at, "suspend")
        if self.suspended:
            raise ValueError("the clock is suspended already")
        return replace(self, suspensions=(*self.suspensions, Suspension(reason, kind, at)))

    def _closed_at(self, at: datetime) -> tuple[Suspension, ...]:
        open_one = self.open_suspension
        if open_one is not None and at < open_one.started_at:
            raise ValueError("cannot end a suspension before it started")
        return tuple(replace(s, ended_at=at) if s.ended_at is None else s for s in self.suspensions)

    def resume(self, at: datetime) -> Clock:
        """Close the open suspension."""
        _require_aware(at, "at")
        if not self.suspended:
            raise ValueError("the clock is not suspended")
        return replace(self, suspensions=self._closed_at(at))

    def restart(self, at: datetime) -> Clock:
        """Count the whole budget again from the receipt day of ``at`` (e.g. when the resident completes an
        application, 补正后重新起算). Closes any open suspension; a stopped clock runs again; extensions
        granted earlier still count."""
        _require_aware(at, "at")
        if at < self.started_at:
            raise ValueError("cannot restart before the clock started")
        return replace(self, suspensions=self._closed_at(at), restarts=(*self.restarts, self.started_at),
                       started_at=at, stopped_at=None)

    def extend(self, at: datetime, days: int, reason: str) -> Clock:
        self._check_running(at, "extend")
        return replace(self, extensions=(*self.extensions, Extension(days, reason, at)))

    def stop(self, at: datetime) -> Clock:
        """The request reached a terminal step; an open suspension ends with it."""
        _require_aware(at, "at")
        if self.stopped_at is not None:
            raise ValueError("the clock is stopped already")
        if at < self.started_at:
            raise ValueError("cannot stop before the clock started")
        return replace(self, suspensions=self._closed_at(at), stopped_at=at)

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def total_budget_days(self) -> int:
        """The budget with every extension."""
        return self.budget_days + sum(e.days for e in self.extensions)

    def _until(self, now: datetime) -> datetime:
        return self.stopped_at if self.stopped_at is not None else now

    def skip_ranges(self, tz: tzinfo, now: datetime) -> tuple[tuple[date, date], ...]:
        """The suspended ranges ``(a, b]`` of local days since ``started_at``; an open one runs to ``now``
        (or to ``stopped_at``)."""
        until = self._until(now)
        return tuple(
            (local_day(s.started_at, tz), local_day(s.ended_at if s.ended_at is not None else until, tz))
            for s in self.suspensions
            if s.started_at >= self.started_at
        )

    def due_date(self, calendar: WorkingCalendar, tz: tzinfo, now: datetime) -> date:
        start = receipt_day(calendar, self.started_at, tz)
        return add_working_days(calendar, start, self.total_budget_days, self.skip_ranges(tz, now))

    def due_at(self, calendar: WorkingCalendar, tz: tzinfo, now: datetime) -> datetime:
        return end_of_day(self.due_date(calendar, tz, now), tz)

    def is_overdue(self, calendar: WorkingCalendar, tz: tzinfo, now: datetime) -> bool:
        return self._until(now) > self.due_at(calendar, tz, now)

    def working_days_overdue(self, calendar: WorkingCalendar, tz: tzinfo, now: datetime) -> int:
        """Counted working days after the due date up to the local day of ``stopped_at`` or ``now``; 0 when
        not overdue (and 0 when it became overdue at the end of a working day and no working day has begun
        since, e.g. on the weekend after a Friday deadline)."""
        if not self.is_overdue(calendar, tz, now):
            return 0
        return working_days_between(calendar, self.due_date(calendar, tz, now),
                                    local_day(self._until(now), tz), self.skip_ranges(tz, now))

    def working_days_used(self, calendar: WorkingCalendar, tz: tzinfo, now: datetime) -> int:
        """Counted (not suspended) working days from the receipt day to the local day of ``stopped_at`` or
        ``now``."""
        return working_days_between(calendar, receipt_day(calendar, self.started_at, tz),
                                    local_day(self._until(now), tz), self.skip_ranges(tz, now))

    # --- storage ---------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, timestamps as ISO 8601 in UTC; ``version`` names the format for later upgrades."""
        return {
            "version": SERIAL_VERSION,
            "started_at": _iso(self.started_at),
            "budget_days": self.budget_days,
            "suspensions": [
                {"reason": s.reason, "kind": s.kind, "started_at": _iso(s.started_at),
                 "ended_at": _iso(s.ended_at) if s.ended_at is not None else None}
                for s in self.suspensions
            ],
            "extensions": [{"days": e.days, "reason": e.reason, "at": _iso(e.at)} for e in self.extensions],
            "restarts": [_iso(r) for r in self.restarts],
            "stopped_at": _iso(self.stopped_at) if self.stopped_at is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Clock:
        version = data.get("version", SERIAL_VERSION)
        if version != SERIAL_VERSION:
            raise ValueError(f"unknown clock format version {version!r}")
        return cls(
            started_at=_parse(data["started_at"]),
            budget_days=int(data["budget_days"]),
            suspensions=tuple(
                Suspension(reason=s["reason"], kind=s["kind"], started_at=_parse(s["started_at"]),
                           ended_at=_parse(s["ended_at"]) if s.get("ended_at") is not None else None)
                for s in data.get("suspensions", ())
            ),
            extensions=tuple(Extension(days=int(e["days"]), reason=e["reason"], at=_parse(e["at"]))
                             for e in data.get("extensions", ())),
            restarts=tuple(_parse(r) for r in data.get("restarts", ())),
            stopped_at=_parse(data["stopped_at"]) if data.get("stopped_at") is not None else None,
        )
