"""Reminders, overdue notices and escalations fire on the right working day: an injected clock walks across the
real 2026 Spring Festival (holiday 2-15 … 2-23, make-up working days Sat 2-14 and Sat 2-28)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.accounts.models import Department
from service.core.db import db
from service.notifications import jobs
from service.requests.models import Request, RequestAssignee
from tests.integration.notifications_helpers import Clock, RecordingChannel, deliver_all, messages

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def notices(app: Flask) -> list[tuple[str, str, str]]:
    """(event, department code, level) of the staff messages queued so far, in order."""
    with app.app_context():
        code_of = {row.id: row.code for row in db.session.execute(sa.select(Department.id, Department.code))}
    return [(m.event, code_of[m.recipient_id], str(m.payload.get("level", "")))
            for m in messages(app, channel="staff")]


def scan(app: Flask, month: int, day: int, hour: int = 10) -> list[tuple[str, str, str]]:
    """Run the reminder job at that local time; the messages it added, sorted."""
    before = Counter(notices(app))
    queued = jobs.queue_reminders(app, at(month, day, hour))
    added = sorted((Counter(notices(app)) - before).elements())
    assert queued == len(added)
    return added


def step_due(app: Flask, request_id: str) -> datetime:
    with app.app_context():
        request = db.session.get(Request, request_id)
        assert request is not None
        assert request.step_due_at is not None
        return request.step_due_at.astimezone(SHANGHAI)


def test_a_step_due_after_the_holiday_is_reminded_on_the_make_up_working_day_before_it(
        app: Flask, submit_request: Callable[..., str]) -> None:
    # a permit's acceptance has 5 working days: received Tue 2-10, it is due at the end of Tue 2-24
    request_id = submit_request("permit", at=at(2, 10))
    assert step_due(app, request_id) == datetime(2026, 2, 24, 23, 59, 59, tzinfo=SHANGHAI)

    assert scan(app, 2, 12) == []
    assert scan(app, 2, 13) == []  # Friday: the next working day is the make-up Saturday, not the deadline
    assert scan(app, 2, 14) == [("step_due_soon", "service-center", "")]  # make-up Saturday: due next working day
    assert scan(app, 2, 14, 16) == []  # once
    assert scan(app, 2, 16) == []  # holiday
    assert scan(app, 2, 24) == []  # the deadline's own day: reminded already
    # Wed 2-25, the first working day overdue: the officers and the department's supervisors (level 1)
    assert scan(app, 2, 25) == [("step_escalated", "service-center", "1"), ("step_overdue", "service-center", "")]
    assert scan(app, 2, 26) == []  # one working day after level 1: not yet
    assert scan(app, 2, 27) == [("step_escalated", "district", "2")]  # two working days after level 1: one up
    assert scan(app, 2, 28) == []  # no level above the district
    assert scan(app, 3, 2) == []

    [due_soon] = messages(app, event="step_due_soon")
    assert due_soon.payload["roles"] == ["handler"]
    assert due_soon.payload["due_at"] == "2026-02-24T15:59:59+00:00"


def test_an_overdue_step_escalates_across_the_holiday_on_working_days_only(
        app: Flask, client: FlaskClient, submit_request: Callable[..., str],
        login_as: Callable[[str], Any]) -> None:
    # a repair's acceptance has 1 working day: received Thu 2-12, it is due at the end of Fri 2-13
    request_id = submit_request("repair", at=at(2, 12))
    assert step_due(app, request_id).date().isoformat() == "2026-02-13"

    assert scan(app, 2, 12) == [("step_due_soon", "urban", "")]
    assert scan(app, 2, 13) == []
    # overdue from Saturday 2-14, a make-up working day: officers and their supervisors hear of it that day
    assert scan(app, 2, 14) == [("step_escalated", "urban", "1"), ("step_overdue", "urban", "")]
    for day in range(15, 24):  # the Spring Festival: nothing, although it stays overdue
        assert scan(app, 2, day) == []
    # Tue 2-24 is one working day after level 1 (2-14, then the holiday): not yet
    assert scan(app, 2, 24) == []
    # Wed 2-25, the third working day overdue (2-14, 2-24, 2-25), two after level 1: escalated to the district
    assert scan(app, 2, 25) == [("step_escalated", "district", "2")]
    assert scan(app, 2, 26) == []

    channel = RecordingChannel()
    deliver_all(app, channel=channel)
    received = {(user, event) for user, event, _ in channel.sent}
    assert received == {("urban-handler", "step_due_soon"), ("urban-handler", "step_overdue"),
                        ("urban-supervisor", "step_escalated"), ("district-supervisor", "step_escalated")}
    inbox = client.get("/console/v1/notifications", headers=login_as("district-supervisor")).get_json()["items"]
    [escalated] = inbox
    assert escalated["event"] == "step_escalated"
    assert escalated["data"]["level"] == 2
    assert escalated["data"]["working_days_overdue"] == 3
    assert "区城市管理局" in escalated["body"]


def test_the_escalation_interval_is_configurable(app: Flask, submit_request: Callable[..., str]) -> None:
    app.config["ESCALATION_WORKING_DAYS"] = 1
    submit_request("repair", at=at(2, 12))

    scan(app, 2, 13)
    assert scan(app, 2, 14) == [("step_escalated", "urban", "1"), ("step_overdue", "urban", "")]  # not level 2 too
    for day in range(15, 24):
        assert scan(app, 2, day) == []
    # the next working day after level 1 (across the holiday): level 2
    assert scan(app, 2, 24) == [("step_escalated", "district", "2")]


def test_a_finished_step_is_never_reminded(app: Flask, submit_request: Callable[..., str]) -> None:
    from service.requests import operations
    from tests.integration.notifications_helpers import staff_actor

    request_id = submit_request("repair", at=at(2, 12))
    with app.app_context():
        operations.act(staff_actor("urban-handler"), request_id, "accept", None, {}, 1, at=at(2, 12, 11))
        operations.act(staff_actor("urban-handler"), request_id, "complete", None, {}, 2, at=at(2, 12, 12))
        db.session.commit()

    assert scan(app, 2, 12) == []
    assert scan(app, 2, 25) == []


def test_supervision_reminders_reach_their_supervisor_at_their_time(
        app: Flask, client: FlaskClient, submit_request: Callable[..., str], login_as: Callable[[str], Any]) -> None:
    request_id = submit_request("repair")
    supervisor = login_as("urban-supervisor")
    remind_at = "2031-02-16T09:00:00+08:00"  # a Sunday: the supervisor chose it
    flagged = client.post(f"/console/v1/requests/{request_id}/supervisions",
                          json={"comment": "周日上午核实进度", "remind_at": remind_at}, headers=supervisor)
    assert flagged.status_code == 201, flagged.get_json()

    jobs.queue_reminders(app, datetime(2031, 2, 16, 8, 59, tzinfo=SHANGHAI))
    assert messages(app, event="supervision_reminder") == []
    jobs.queue_reminders(app, datetime(2031, 2, 16, 9, 0, tzinfo=SHANGHAI))
    jobs.queue_reminders(app, datetime(2031, 2, 16, 9, 5, tzinfo=SHANGHAI))

    [reminder] = messages(app, event="supervision_reminder")
    assert (reminder.recipient_kind, reminder.subject_id) == ("staff", request_id)
    deliver_all(app, Clock(datetime(2031, 2, 16, 9, 5, tzinfo=SHANGHAI)))
    inbox = client.get("/console/v1/notifications", headers=supervisor).get_json()["items"]
    assert [n["event"] for n in inbox] == ["supervision_reminder"]
    assert "周日上午核实进度" in inbox[0]["body"]

    # months later the clean-up keeps the reminder while the supervision is unresolved: it is not sent again
    later = datetime(2031, 9, 16, 9, 0, tzinfo=SHANGHAI)
    jobs.clean_up(app, later)
    jobs.queue_reminders(app, later)  # (the request's step is overdue by then: that is another matter)
    assert len(messages(app, event="supervision_reminder")) == 1


def test_a_step_overdue_for_months_is_not_notified_again_after_the_clean_up(
        app: Flask, submit_request: Callable[..., str]) -> None:
    from service.requests import operations
    from tests.integration.notifications_helpers import staff_actor

    request_id = submit_request("repair", at=at(2, 12))
    for day in (12, 14, 25):
        scan(app, 2, day)
    deliver_all(app, Clock(at(2, 25, 11)))
    notified = sorted(notices(app))
    assert notified == [("step_due_soon", "urban", ""), ("step_escalated", "district", "2"),
                        ("step_escalated", "urban", "1"), ("step_overdue", "urban", "")]
    assert {m.status for m in messages(app, channel="staff")} == {"delivered"}

    # long past OUTBOX_RETENTION_DAYS, the step still overdue: the clean-up keeps what records the notices ...
    jobs.clean_up(app, at(9, 1))
    assert sorted(notices(app)) == notified
    assert scan(app, 9, 1) == []  # ... so nobody is told again, at any level
    assert scan(app, 9, 2) == []

    # once the request is closed they go, and nothing comes back
    with app.app_context():
        operations.act(staff_actor("urban-handler"), request_id, "accept", None, {}, 1, at=at(9, 2, 11))
        operations.act(staff_actor("urban-handler"), request_id, "complete", None, {}, 2, at=at(9, 2, 12))
        db.session.commit()
    assert jobs.clean_up(app, at(12, 1))["outbox_messages"] >= len(notified)
    assert notices(app) == []
    assert scan(app, 12, 1) == []


def test_each_role_of_a_department_hears_of_its_own_step(app: Flask, submit_request: Callable[..., str]) -> None:
    request_id = submit_request("repair", at=at(2, 12))
    assert scan(app, 2, 12) == [("step_due_soon", "urban", "")]
    # the next step is the same department's, for another role, with the same deadline
    with app.app_context():
        db.session.execute(sa.update(RequestAssignee).where(RequestAssignee.request_id == request_id)
                           .values(role="supervisor"))
        db.session.commit()

    assert scan(app, 2, 12, 15) == [("step_due_soon", "urban", "")]
    assert [m.payload["roles"] for m in messages(app, event="step_due_soon")] == [["handler"], ["supervisor"]]


def test_the_scan_reads_without_the_write_lock_and_writes_in_key_order(
        app: Flask, settings: dict[str, Any], submit_request: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from service.notifications import outbox, reminders

    submit_request("repair", at=at(2, 12))
    database = sa.make_url(settings["DATABASE_URL"])
    scanned, written = reminders.due_messages, outbox.enqueue
    writers: list[bool] = []
    keys: list[list[str]] = []

    def scan_then_write_elsewhere(now: datetime) -> list[dict[str, Any]]:
        rows = scanned(now)
        if database.get_backend_name() == "sqlite":  # while the scan's transaction is open, another may write
            other = sqlite3.connect(str(database.database), timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                writers.append(True)
            finally:
                other.close()
        return rows

    def recording(rows: Any) -> None:
        keys.append([row["idempotency_key"] for row in rows])
        written(rows)

    monkeypatch.setattr(reminders, "due_messages", scan_then_write_elsewhere)
    monkeypatch.setattr(outbox, "enqueue", recording)

    assert jobs.queue_reminders(app, at(2, 14)) == 2
    assert jobs.queue_reminders(app, at(2, 14, 11)) == 0  # nothing new: no write transaction at all
    assert len(keys) == 1
    assert keys[0] == sorted(keys[0])
    assert writers == ([True, True] if database.get_backend_name() == "sqlite" else [])
