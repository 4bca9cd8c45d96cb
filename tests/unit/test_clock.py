"""The working-day clock against the real 2025 and 2026 calendars of the State Council (国务院办公厅 notices on
public holidays), as packaged by ``chinesecalendar``.

Every expected date below was counted by hand from the official notices, not taken from the code:

2025  元旦 1-01 (Wed) off · 春节 1-28 (Tue) … 2-04 (Tue) off, make-up Sun 1-26 and Sat 2-08 · 清明 4-04 … 4-06 ·
      劳动节 5-01 (Thu) … 5-05 (Mon) off, make-up Sun 4-27 · 端午 5-31 … 6-02 ·
      国庆+中秋 10-01 (Wed) … 10-08 (Wed) off, make-up Sun 9-28 and Sat 10-11
2026  元旦 1-01 (Thu) … 1-03 (Sat) off, make-up Sun 1-04 · 春节 2-15 (Sun) … 2-23 (Mon) off, make-up Sat 2-14 and
      Sat 2-28 · 清明 4-04 … 4-06 (Mon) · 劳动节 5-01 (Fri) … 5-05 (Tue) off, make-up Sat 5-09 · 端午 6-19 … 6-21 ·
      中秋 9-25 (Fri) … 9-27 off, make-up Sun 9-20 · 国庆 10-01 (Thu) … 10-07 (Wed) off, make-up Sat 10-10
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine import clock
from service.engine.clock import (
    Clock,
    Extension,
    RuleCalendar,
    Suspension,
    add_working_days,
    end_of_day,
    local_day,
    receipt_day,
    working_days_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = RuleCalendar(chinese_calendar.holidays, chinese_calendar.workdays)

DISCLOSURE = 20  # 政府信息公开条例 art. 33: reply within 20 working days
REPAIR = 3


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A local time in Shanghai."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def due(received: datetime, days: int) -> date:
    return Clock.start(received, days).due_date(CHINA, SHANGHAI, received)


# --- the calendar itself -------------------------------------------------------------------------------------


def test_packaged_calendar_agrees_with_chinesecalendar_for_2025_and_2026() -> None:
    day = date(2025, 1, 1)
    while day <= date(2026, 12, 31):
        assert CHINA.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 2, 14), True),    # Saturday, make-up day before the Spring Festival
    (date(2026, 2, 15), False),   # Sunday, first day of the Spring Festival
    (date(2026, 2, 23), False),   # Monday, last day of the Spring Festival
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),    # Saturday, make-up day after it
    (date(2026, 3, 1), False),    # an ordinary Sunday
    (date(2025, 9, 28), True),    # Sunday, make-up day before National Day 2025
    (date(2025, 10, 8), False),   # Wednesday, last day of National Day 2025
    (date(2025, 10, 11), True),   # Saturday, make-up day
    (date(2026, 10, 10), True),   # Saturday, make-up day after National Day 2026
])
def test_official_days(day: date, working: bool) -> None:
    assert CHINA.is_working_day(day) is working


def test_rule_calendar_overrides() -> None:
    cal = RuleCalendar(holidays=[date(2026, 3, 4)], workdays=[date(2026, 3, 7)])
    assert not cal.is_working_day(date(2026, 3, 4))   # Wednesday, closed
    assert cal.is_working_day(date(2026, 3, 5))       # Thursday
    assert cal.is_working_day(date(2026, 3, 7))       # Saturday, make-up day
    assert not cal.is_working_day(date(2026, 3, 8))   # Sunday
    both = RuleCalendar(holidays=[date(2026, 3, 7)], workdays=[date(2026, 3, 7)])
    assert not both.is_working_day(date(2026, 3, 7))  # a closure wins over a make-up day


# --- helpers ---------------------------------------------------------------------------------------------------


def test_local_day_uses_the_time_zone_and_refuses_naive_times() -> None:
    instant = datetime(2026, 2, 13, 20, 30, tzinfo=UTC)  # 2026-02-14 04:30 in Shanghai
    assert local_day(instant, SHANGHAI) == date(2026, 2, 14)
    assert local_day(instant, UTC) == date(2026, 2, 13)
    with pytest.raises(ValueError, match="aware"):
        local_day(datetime(2026, 2, 14, 10), SHANGHAI)


@pytest.mark.parametrize(("received", "expected"), [
    (at(2026, 2, 14), date(2026, 2, 14)),   # make-up Saturday: received that day
    (at(2026, 2, 15), date(2026, 2, 24)),   # Spring Festival Sunday: the next working day is Tue 2-24
    (at(2026, 2, 21), date(2026, 2, 24)),   # a Saturday inside the holiday
    (at(2026, 3, 8), date(2026, 3, 9)),     # ordinary Sunday -> Monday
    (at(2025, 10, 3), date(2025, 10, 9)),   # National Day 2025 -> Thu 10-09
    (at(2025, 10, 11), date(2025, 10, 11)),  # make-up Saturday
    (at(2026, 1, 3), date(2026, 1, 4)),     # New Year Saturday -> make-up Sunday 1-04
])
def test_receipt_day(received: datetime, expected: date) -> None:
    assert receipt_day(CHINA, received, SHANGHAI) == expected


def test_add_working_days_basics() -> None:
    assert add_working_days(CHINA, date(2026, 2, 13), 0) == date(2026, 2, 13)
    # Fri 2-13 -> Sat 2-14 (make-up) is the 1st, then the holiday, Tue 2-24 the 2nd.
    assert add_working_days(CHINA, date(2026, 2, 13), 2) == date(2026, 2, 24)
    # start on a non-working day: the next working days are counted as usual
    assert add_working_days(CHINA, date(2026, 2, 15), 1) == date(2026, 2, 24)
    with pytest.raises(ValueError, match="negative"):
        add_working_days(CHINA, date(2026, 2, 13), -1)


def test_add_working_days_with_skipped_ranges() -> None:
    # From Mon 3-02: skipping (3-03, 3-05] leaves 3-03 (1st), then 3-06 (2nd), Mon 3-09 (3rd).
    skip = [(date(2026, 3, 3), date(2026, 3, 5))]
    assert add_working_days(CHINA, date(2026, 3, 2), 3, skip) == date(2026, 3, 9)
    # Overlapping and empty ranges merge: (3-03, 3-05] ∪ (3-04, 3-10] = (3-03, 3-10]; (3-12, 3-12] is empty.
    skip = [(date(2026, 3, 4), date(2026, 3, 10)), (date(2026, 3, 3), date(2026, 3, 5)),
            (date(2026, 3, 12), date(2026, 3, 12))]
    # 3-03 (1st), skipped to 3-10, then 3-11 (2nd), 3-12 (3rd)
    assert add_working_days(CHINA, date(2026, 3, 2), 3, skip) == date(2026, 3, 12)


class _Counted:
    """The same days as ``CHINA``, but not a :class:`RuleCalendar`: ``add_working_days`` counts day by day."""

    def is_working_day(self, day: date) -> bool:
        return CHINA.is_working_day(day)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)), st.integers(min_value=0, max_value=60))
def test_a_rule_calendar_remembers_the_dates_it_counted(start: date, n: int) -> None:
    counted = add_working_days(_Counted(), start, n)
    assert add_working_days(CHINA, start, n) == counted
    assert add_working_days(CHINA, start, n) == counted  # the second time from memory


def test_a_rule_calendar_remembers_a_bounded_number_of_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "_REMEMBERED_DATES", 3)
    calendar = RuleCalendar(chinese_calendar.holidays, chinese_calendar.workdays)
    starts = [date(2026, 9, 28) + timedelta(days=i) for i in range(8)]  # across 国庆 2026
    for _ in range(2):
        assert [add_working_days(calendar, day, 5) for day in starts] == [
            add_working_days(_Counted(), day, 5) for day in starts]
        assert len(calendar._after) <= 3


def test_a_calendar_without_working_days_fails_instead_of_looping() -> None:
    class Closed:
        def is_working_day(self, day: date) -> bool:
            return False

    with pytest.raises(ValueError, match="no working day"):
        add_working_days(Closed(), date(2026, 1, 1), 1)
    with pytest.raises(ValueError, match="no working day"):
        receipt_day(Closed(), at(2026, 1, 1), SHANGHAI)
    with pytest.raises(ValueError, match="no working day"):
        Clock.start(at(2026, 1, 1), 3).due_date(Closed(), SHANGHAI, at(2026, 1, 1))


def test_working_days_between() -> None:
    # (Fri 2-13, Wed 2-25]: Sat 2-14, Tue 2-24, Wed 2-25
    assert working_days_between(CHINA, date(2026, 2, 13), date(2026, 2, 25)) == 3
    assert working_days_between(CHINA, date(2026, 2, 25), date(2026, 2, 13)) == 0
    assert working_days_between(CHINA, date(2026, 2, 13), date(2026, 2, 13)) == 0
    # skipping (2-13, 2-24] leaves only 2-25
    assert working_days_between(CHINA, date(2026, 2, 13), date(2026, 2, 25),
                                [(date(2026, 2, 13), date(2026, 2, 24))]) == 1


def test_end_of_day_is_235959_local() -> None:
    moment = end_of_day(date(2026, 2, 26), SHANGHAI)
    assert moment.isoformat() == "2026-02-26T23:59:59+08:00"
    assert moment.astimezone(UTC) == datetime(2026, 2, 26, 15, 59, 59, tzinfo=UTC)


# --- due dates across real holidays ---------------------------------------------------------------------------


@pytest.mark.parametrize(("received", "days", "expected"), [
    # Received on make-up Saturday 2026-02-14, so that is the receipt day. 2-15 … 2-23 off;
    # Tue 2-24 (1), Wed 2-25 (2), Thu 2-26 (3).
    (at(2026, 2, 14), REPAIR, date(2026, 2, 26)),
    # Same receipt: 2-24 (1) 2-25 (2) 2-26 (3) 2-27 (4) Sat 2-28 make-up (5) 3-02…3-06 (6-10)
    # 3-09…3-13 (11-15) 3-16…3-20 (16-20).
    (at(2026, 2, 14), DISCLOSURE, date(2026, 3, 20)),
    # Received on Sunday 2-15, the first day of the holiday: receipt day Tue 2-24.
    # Wed 2-25 (1), Thu 2-26 (2), Fri 2-27 (3).
    (at(2026, 2, 15), REPAIR, date(2026, 2, 27)),
    # Receipt Tue 2-24: 2-25 (1) 2-26 (2) 2-27 (3) Sat 2-28 (4) 3-02…3-06 (5-9) 3-09…3-13 (10-14)
    # 3-16…3-20 (15-19) Mon 3-23 (20).
    (at(2026, 2, 15), DISCLOSURE, date(2026, 3, 23)),
    # Received on Friday 2-13, the eve of the make-up Saturday: Sat 2-14 (1), Tue 2-24 (2), Wed 2-25 (3).
    (at(2026, 2, 13, 16), REPAIR, date(2026, 2, 25)),
    # Eve of National Day 2025, Tue 9-30: 10-01 … 10-08 off; Thu 10-09 (1), Fri 10-10 (2), Sat 10-11 make-up (3).
    (at(2025, 9, 30, 17), REPAIR, date(2025, 10, 11)),
    # Same: 10-09 (1) 10-10 (2) 10-11 (3) 10-13…10-17 (4-8) 10-20…10-24 (9-13) 10-27…10-31 (14-18)
    # Mon 11-03 (19) Tue 11-04 (20).
    (at(2025, 9, 30, 17), DISCLOSURE, date(2025, 11, 4)),
    # Received on make-up Sunday 2025-09-28: Mon 9-29 (1), Tue 9-30 (2), Thu 10-09 (3).
    (at(2025, 9, 28), REPAIR, date(2025, 10, 9)),
    # Received during the holiday (Fri 2025-10-03): receipt Thu 10-09; 10-10 (1), Sat 10-11 (2), Mon 10-13 (3).
    (at(2025, 10, 3), REPAIR, date(2025, 10, 13)),
    # Eve of National Day 2026, Wed 9-30: 10-01 … 10-07 off; Thu 10-08 (1), Fri 10-09 (2), Sat 10-10 make-up (3).
    (at(2026, 9, 30), REPAIR, date(2026, 10, 10)),
    # Received on make-up Sunday 2026-09-20: 9-21 (1) 9-22 (2) 9-23 (3) 9-24 (4), Fri 9-25 is 中秋, Mon 9-28 (5).
    (at(2026, 9, 20), 5, date(2026, 9, 28)),
    # An ordinary Sunday 2026-03-08: receipt Mon 3-09; 3-10 (1), 3-11 (2), 3-12 (3).
    (at(2026, 3, 8), REPAIR, date(2026, 3, 12)),
    # Between the 2025 Spring Festival make-up Sunday and the holiday, Mon 1-27: 1-28 … 2-04 off;
    # Wed 2-05 (1), Thu 2-06 (2), Fri 2-07 (3).
    (at(2025, 1, 27), REPAIR, date(2025, 2, 7)),
    # Received on that make-up Sunday 2025-01-26: Mon 1-27 (1), Wed 2-05 (2), Thu 2-06 (3).
    (at(2025, 1, 26), REPAIR, date(2025, 2, 6)),
    # New Year's Eve 2025-12-31: 1-01 … 1-03 off; Sun 1-04 make-up (1), Mon 1-05 (2), Tue 1-06 (3).
    (at(2025, 12, 31), REPAIR, date(2026, 1, 6)),
    # Eve of Labour Day 2025, Wed 4-30: 5-01 … 5-05 off; Tue 5-06 (1), Wed 5-07 (2), Thu 5-08 (3).
    (at(2025, 4, 30), REPAIR, date(2025, 5, 8)),
    # Zero days: due at the end of the receipt day (Sunday 2-15 -> Tue 2-24).
    (at(2026, 2, 15), 0, date(2026, 2, 24)),
])
def test_due_dates(received: datetime, days: int, expected: date) -> None:
    assert due(received, days) == expected


def test_receipt_uses_the_local_day_not_the_utc_day() -> None:
    # 2026-02-13 20:30 UTC is Sat 2026-02-14 04:30 in Shanghai, a make-up working day: received that day,
    # due Thu 2-26 (see above), at 23:59:59+08:00.
    received = datetime(2026, 2, 13, 20, 30, tzinfo=UTC)
    clock = Clock.start(received, REPAIR)
    assert clock.due_at(CHINA, SHANGHAI, received).isoformat() == "2026-02-26T23:59:59+08:00"
    # 2026-02-14 16:30 UTC is Sun 2-15 00:30 in Shanghai, a holiday: receipt Tue 2-24, due Fri 2-27.
    received = datetime(2026, 2, 14, 16, 30, tzinfo=UTC)
    assert Clock.start(received, REPAIR).due_at(CHINA, SHANGHAI, received) == datetime(
        2026, 2, 27, 23, 59, 59, tzinfo=SHANGHAI)


# --- the ledger -----------------------------------------------------------------------------------------------


def test_a_pause_across_the_spring_festival() -> None:
    # Disclosure received Mon 2026-02-02. Without a pause: 2-03…2-06 (1-4) 2-09…2-13 (5-9) Sat 2-14 (10)
    # 2-24…2-27 (11-14) Sat 2-28 (15) 3-02…3-06 (16-20): due Fri 3-06.
    clock = Clock.start(at(2026, 2, 2, 9), DISCLOSURE)
    assert clock.due_date(CHINA, SHANGHAI, at(2026, 2, 2, 9)) == date(2026, 3, 6)

    paused = clock.suspend(at(2026, 2, 12, 10), "supplement")
    assert paused.suspended
    # Still paused on Thu 2-19 (a holiday): the skipped working days are (2-12, 2-19] = 2-13, 2-14: two days
    # more than 3-06 -> Mon 3-09, Tue 3-10.
    now = at(2026, 2, 19, 12)
    assert paused.due_date(CHINA, SHANGHAI, now) == date(2026, 3, 10)
    # Counted so far: 2-03…2-06, 2-09…2-12 = 8 (2-13 and 2-14 are paused).
    assert paused.working_days_used(CHINA, SHANGHAI, now) == 8
    assert not paused.is_overdue(CHINA, SHANGHAI, now)

    # Resumed Wed 2-25 09:00: skipped (2-12, 2-25] = 2-13, 2-14, 2-24, 2-25: four days after 3-06 ->
    # 3-09, 3-10, 3-11, Thu 3-12.
    resumed = paused.resume(at(2026, 2, 25, 9))
    assert not resumed.suspended
    assert resumed.due_date(CHINA, SHANGHAI, at(2026, 2, 26, 12)) == date(2026, 3, 12)
    assert resumed.due_date(CHINA, SHANGHAI, at(2026, 3, 30)) == date(2026, 3, 12)  # closed: now no longer matters
    # Counted by Thu 2-26: the 8 above and 2-26.
    assert resumed.working_days_used(CHINA, SHANGHAI, at(2026, 2, 26, 12)) == 9
    assert resumed.due_at(CHINA, SHANGHAI, at(2026, 2, 26)).isoformat() == "2026-03-12T23:59:59+08:00"


def test_an_excluded_period_across_national_day_2025() -> None:
    # Disclosure received Mon 2025-09-15: 9-16…9-19 (1-4) 9-22…9-26 (5-9) Sun 9-28 make-up (10) 9-29 (11)
    # 9-30 (12) 10-09 (13) 10-10 (14) Sat 10-11 (15) 10-13…10-17 (16-20): due Fri 10-17.
    clock = Clock.start(at(2025, 9, 15), DISCLOSURE)
    assert clock.due_date(CHINA, SHANGHAI, at(2025, 9, 15)) == date(2025, 10, 17)
    # A third party's opinion is sought on Wed 9-24 and arrives Fri 10-10: (9-24, 10-10] holds the working
    # days 9-25, 9-26, 9-28, 9-29, 9-30, 10-09, 10-10 = 7; 10-17 + 7 -> 10-20…10-24, 10-27, Tue 10-28.
    excluded = clock.suspend(at(2025, 9, 24, 15), "third_party_opinion", kind="exclude").resume(at(2025, 10, 10, 11))
    assert excluded.due_date(CHINA, SHANGHAI, at(2025, 10, 10, 11)) == date(2025, 10, 28)
    assert excluded.suspensions[0].kind == "exclude"


def test_a_restart_counts_the_budget_again_from_the_supplement() -> None:
    # Received Mon 2026-03-02: 3-03…3-06 (1-4) 3-09…3-13 (5-9) 3-16…3-20 (10-14) 3-23…3-27 (15-19)
    # Mon 3-30 (20).
    clock = Clock.start(at(2026, 3, 2), DISCLOSURE)
    assert clock.due_date(CHINA, SHANGHAI, at(2026, 3, 2)) == date(2026, 3, 30)
    waiting = clock.suspend(at(2026, 3, 4), "supplement")
    # The complete application arrives Mon 3-09 10:00: counting starts over from 3-09.
    # 3-10…3-13 (1-4) 3-16…3-20 (5-9) 3-23…3-27 (10-14) 3-30…4-03 (15-19), Mon 4-06 is 清明, Tue 4-07 (20).
    restarted = waiting.restart(at(2026, 3, 9))
    assert restarted.started_at == at(2026, 3, 9)
    assert restarted.restarts == (at(2026, 3, 2),)
    assert not restarted.suspended
    assert restarted.suspensions[0].ended_at == at(2026, 3, 9)
    assert restarted.due_date(CHINA, SHANGHAI, at(2026, 3, 10)) == date(2026, 4, 7)
    # Counted since the restart by Fri 3-13: 3-10…3-13.
    assert restarted.working_days_used(CHINA, SHANGHAI, at(2026, 3, 13)) == 4


def test_an_extension_adds_exactly_its_days() -> None:
    # Disclosure received Mon 2026-09-14: 9-15…9-18 (1-4) Sun 9-20 make-up (5) 9-21…9-24 (6-9), 9-25 中秋,
    # 9-28…9-30 (10-12), 10-01…10-07 国庆, 10-08 (13) 10-09 (14) Sat 10-10 (15) 10-12…10-16 (16-20): Fri 10-16.
    clock = Clock.start(at(2026, 9, 14), DISCLOSURE)
    assert clock.due_date(CHINA, SHANGHAI, at(2026, 9, 14)) == date(2026, 10, 16)
    # Extended by 20 working days (政府信息公开条例 art. 33): 10-19…10-23 (1-5) 10-26…10-30 (6-10)
    # 11-02…11-06 (11-15) 11-09…11-13 (16-20): Fri 11-13.
    extended = clock.extend(at(2026, 10, 12), 20, "needs consultation of archives")
    assert extended.total_budget_days == 40
    assert extended.extensions == (Extension(20, "needs consultation of archives", at(2026, 10, 12)),)
    assert extended.due_date(CHINA, SHANGHAI, at(2026, 10, 12)) == date(2026, 11, 13)


def test_overdue_counts() -> None:
    # Repair received Mon 2026-04-27: 4-28 (1) 4-29 (2) Thu 4-30 (3), due 4-30 23:59:59.
    clock = Clock.start(at(2026, 4, 27, 9), REPAIR)
    assert clock.due_date(CHINA, SHANGHAI, at(2026, 4, 27)) == date(2026, 4, 30)
    last_second = datetime(2026, 4, 30, 23, 59, 59, tzinfo=SHANGHAI)
    assert not clock.is_overdue(CHINA, SHANGHAI, last_second)
    assert clock.working_days_overdue(CHINA, SHANGHAI, last_second) == 0
    # One second later it is overdue, but 5-01 is Labour Day: no working day has passed yet.
    assert clock.is_overdue(CHINA, SHANGHAI, last_second + timedelta(seconds=1))
    assert clock.working_days_overdue(CHINA, SHANGHAI, last_second + timedelta(seconds=1)) == 0
    # Wed 5-06: 5-01 … 5-05 off, so one working day overdue (5-06).
    assert clock.working_days_overdue(CHINA, SHANGHAI, at(2026, 5, 6)) == 1
    # Sat 5-09 is a make-up day: 5-06, 5-07, 5-08, 5-09 = 4.
    assert clock.working_days_overdue(CHINA, SHANGHAI, at(2026, 5, 9)) == 4
    # Used by then: 4-28, 4-29, 4-30, 5-06, 5-07, 5-08, 5-09 = 7.
    assert clock.working_days_used(CHINA, SHANGHAI, at(2026, 5, 9)) == 7

    # Completed on Thu 5-07: overdue by 5-06 and 5-07, and that stays so whenever it is read.
    done = clock.stop(at(2026, 5, 7, 16))
    for now in (at(2026, 5, 7, 17), at(2026, 6, 1), at(2027, 1, 1)):
        assert done.is_overdue(CHINA, SHANGHAI, now)
        assert done.working_days_overdue(CHINA, SHANGHAI, now) == 2
        assert done.working_days_used(CHINA, SHANGHAI, now) == 5
    # Completed in time: never overdue, however late it is read.
    on_time = clock.stop(at(2026, 4, 30, 18))
    assert not on_time.is_overdue(CHINA, SHANGHAI, at(2026, 6, 1))
    assert on_time.working_days_overdue(CHINA, SHANGHAI, at(2026, 6, 1)) == 0


def test_stop_closes_an_open_pause_and_freezes_the_due_date() -> None:
    # Received Mon 2026-03-02, 3 days: 3-03, 3-04, Thu 3-05. Paused Tue 3-03, withdrawn Mon 3-09:
    # skipped (3-03, 3-09] = 3-04, 3-05, 3-06, 3-09 -> 3-03 (1), 3-10 (2), 3-11 (3).
    clock = Clock.start(at(2026, 3, 2), REPAIR).suspend(at(2026, 3, 3), "supplement").stop(at(2026, 3, 9))
    assert not clock.suspended
    assert clock.suspensions[0].ended_at == at(2026, 3, 9)
    assert clock.due_date(CHINA, SHANGHAI, at(2026, 12, 1)) == date(2026, 3, 11)


def test_ledger_errors() -> None:
    clock = Clock.start(at(2026, 3, 2), REPAIR)
    with pytest.raises(ValueError, match="not suspended"):
        clock.resume(at(2026, 3, 3))
    paused = clock.suspend(at(2026, 3, 3), "supplement")
    with pytest.raises(ValueError, match="suspended already"):
        paused.suspend(at(2026, 3, 4), "supplement")
    with pytest.raises(ValueError, match="before it started"):
        paused.resume(at(2026, 3, 2, 12))
    with pytest.raises(ValueError, match="kind"):
        clock.suspend(at(2026, 3, 3), "supplement", kind="coffee")
    with pytest.raises(ValueError, match="before the clock started"):
        clock.suspend(at(2026, 3, 1), "supplement")
    with pytest.raises(ValueError, match="at least one"):
        clock.extend(at(2026, 3, 3), 0, "nothing")
    stopped = clock.stop(at(2026, 3, 4))
    with pytest.raises(ValueError, match="stopped"):
        stopped.stop(at(2026, 3, 5))
    with pytest.raises(ValueError, match="stopped"):
        stopped.extend(at(2026, 3, 5), 5, "late")
    with pytest.raises(ValueError, match="stopped"):
        stopped.suspend(at(2026, 3, 5), "late")
    with pytest.raises(ValueError, match="aware"):
        Clock.start(datetime(2026, 3, 2, 10), REPAIR)
    with pytest.raises(ValueError, match="negative"):
        Clock.start(at(2026, 3, 2), -1)
    # a restart reopens a stopped clock (e.g. a reopened request)
    reopened = stopped.restart(at(2026, 3, 9))
    assert reopened.stopped_at is None
    assert reopened.restarts == (at(2026, 3, 2),)


def test_every_change_returns_a_new_clock() -> None:
    clock = Clock.start(at(2026, 3, 2), REPAIR)
    clock.suspend(at(2026, 3, 3), "supplement")
    clock.extend(at(2026, 3, 3), 2, "reason")
    assert clock == Clock.start(at(2026, 3, 2), REPAIR)
    with pytest.raises(AttributeError):
        clock.budget_days = 5  # type: ignore[misc]


def test_round_trip() -> None:
    clock = (Clock.start(at(2026, 2, 2, 9), DISCLOSURE)
             .suspend(at(2026, 2, 12, 10), "supplement")
             .resume(at(2026, 2, 25, 9))
             .extend(at(2026, 3, 2), 20, "archives")
             .restart(at(2026, 3, 3))
             .suspend(at(2026, 3, 4), "expert_review", "exclude")
             .stop(at(2026, 3, 20)))
    data = clock.to_dict()
    assert data["started_at"] == "2026-03-03T02:00:00+00:00"
    assert data["version"] == 1
    assert Clock.from_dict(data) == clock
    assert Clock.from_dict(data).to_dict() == data
    assert Clock.from_dict(Clock.start(at(2026, 3, 2), 3).to_dict()) == Clock.start(at(2026, 3, 2), 3)
    with pytest.raises(ValueError, match="version"):
        Clock.from_dict({**data, "version": 99})
    assert Suspension("supplement", "pause", at(2026, 3, 3)).ended_at is None


# --- properties ---------------------------------------------------------------------------------------------

_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=640 * 24 * 60).map(lambda minutes: _EPOCH + timedelta(minutes=minutes))
gaps = st.integers(min_value=0, max_value=40 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


@st.composite
def clocks(draw: st.DrawFn) -> tuple[Clock, datetime]:
    """A clock with a random history of pauses, exclusions and extensions, and the time of its last entry."""
    now = draw(instants)
    clock = Clock.start(now, draw(st.integers(min_value=0, max_value=30)))
    for step in draw(st.lists(st.sampled_from(["suspend", "resume", "extend"]), max_size=6)):
        now = now + draw(gaps)
        if step == "suspend" and not clock.suspended:
            clock = clock.suspend(now, "supplement", draw(st.sampled_from(["pause", "exclude"])))
        elif step == "resume" and clock.suspended:
            clock = clock.resume(now)
        elif step == "extend":
            clock = clock.extend(now, draw(st.integers(min_value=1, max_value=20)), "extension")
    return clock, now


@settings(max_examples=200, deadline=None)
@given(clocks(), gaps, gaps, gaps)
def test_suspending_never_moves_the_due_date_earlier(history: tuple[Clock, datetime], wait: timedelta,
                                                     length: timedelta, later: timedelta) -> None:
    clock, last = history
    if clock.suspended:
        clock = clock.resume(last)
    t = last + wait
    now = t + length + later
    before = clock.due_date(CHINA, SHANGHAI, now)
    paused = clock.suspend(t, "supplement")
    assert paused.due_date(CHINA, SHANGHAI, now) >= before
    assert paused.resume(t + length).due_date(CHINA, SHANGHAI, now) >= before
    # while it stays open, the due date only moves later as time passes
    assert paused.due_date(CHINA, SHANGHAI, now) >= paused.due_date(CHINA, SHANGHAI, t + length)


@settings(max_examples=200, deadline=None)
@given(clocks(), gaps, st.integers(min_value=1, max_value=30))
def test_an_extension_moves_the_due_date_by_exactly_its_days(history: tuple[Clock, datetime], wait: timedelta,
                                                             days: int) -> None:
    clock, last = history
    now = last + wait
    before = clock.due_date(CHINA, SHANGHAI, now)
    after = clock.extend(last, days, "extension").due_date(CHINA, SHANGHAI, now)
    skip = clock.skip_ranges(SHANGHAI, now)
    assert after == add_working_days(CHINA, before, days, skip)
    assert working_days_between(CHINA, before, after, skip) == days


@settings(max_examples=200, deadline=None)
@given(clocks(), gaps, gaps)
def test_a_later_restart_never_yields_an_earlier_due_date(history: tuple[Clock, datetime], first: timedelta,
                                                          second: timedelta) -> None:
    clock, last = history
    t2 = last + first
    t3 = t2 + second
    early, late = clock.restart(t2), clock.restart(t3)
    assert late.due_date(CHINA, SHANGHAI, t3) >= early.due_date(CHINA, SHANGHAI, t3)
    assert early.due_date(CHINA, SHANGHAI, t2) >= clock.due_date(CHINA, SHANGHAI, t2)


@settings(max_examples=100, deadline=None)
@given(clocks(), gaps)
def test_round_trip_property(history: tuple[Clock, datetime], wait: timedelta) -> None:
    clock, last = history
    if wait.days % 2:
        clock = clock.stop(last + wait)
    assert Clock.from_dict(clock.to_dict()) == clock
    assert Clock.from_dict(clock.to_dict()).to_dict() == clock.to_dict()
