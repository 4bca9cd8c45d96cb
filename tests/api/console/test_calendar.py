"""The working-day calendar: listing, administrators' overrides, due dates, seeding and the per-process cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import chinese_calendar
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.calendar import operations, queries
from service.calendar.models import CalendarDay
from service.core.auth import SYSTEM, Actor
from service.core.db import db
from service.core.errors import Forbidden, NotFound
from tests.conftest import bearer, count_rows

CALENDAR = "/console/v1/calendar"


@pytest.fixture
def seeded(app: Flask) -> int:
    with app.app_context():
        count = operations.seed_official([2025, 2026])
        db.session.commit()
        return count


@pytest.fixture
def admin(staff_token: Callable[..., str]) -> dict[str, str]:
    return bearer(staff_token("admin", "district", ("admin",)))


@pytest.fixture
def handler(staff_token: Callable[..., str]) -> dict[str, str]:
    return bearer(staff_token("urban-handler"))


def days_of(client: FlaskClient, headers: dict[str, str], start: str, end: str) -> dict[str, dict[str, Any]]:
    response = client.get(CALENDAR, query_string={"from": start, "to": end}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["next_cursor"] is None
    return {item["day"]: item for item in body["items"]}


def due(client: FlaskClient, headers: dict[str, str], received_at: str, days: int) -> dict[str, Any]:
    response = client.get(f"{CALENDAR}/due", query_string={"received_at": received_at, "days": days},
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_listing_shows_the_spring_festival_2026(client: FlaskClient, seeded: int,
                                                 handler: dict[str, str]) -> None:
    days = days_of(client, handler, "2026-02-13", "2026-03-01")
    assert list(days) == [f"2026-02-{d:02d}" for d in range(13, 29)] + ["2026-03-01"]
    assert days["2026-02-13"] == {"day": "2026-02-13", "is_working_day": True, "kind": None, "name": None,
                                  "source": None}
    assert days["2026-02-14"] == {"day": "2026-02-14", "is_working_day": True, "kind": "workday",
                                  "name": "春节调休上班", "source": "official"}
    assert days["2026-02-15"]["kind"] == "holiday"
    assert days["2026-02-17"] == {"day": "2026-02-17", "is_working_day": False, "kind": "holiday",
                                  "name": "春节", "source": "official"}
    assert not days["2026-02-23"]["is_working_day"]
    assert days["2026-02-24"]["is_working_day"]
    assert days["2026-02-28"]["is_working_day"]
    assert days["2026-03-01"] == {"day": "2026-03-01", "is_working_day": False, "kind": None, "name": None,
                                  "source": None}
    assert days_of(client, handler, "2025-10-01", "2025-10-01")["2025-10-01"]["name"] == "国庆节"


def test_due_dates_across_the_spring_festival(client: FlaskClient, seeded: int, handler: dict[str, str]) -> None:
    # Received on make-up Saturday 2-14: 2-15 … 2-23 off, then Tue 2-24, Wed 2-25, Thu 2-26.
    assert due(client, handler, "2026-02-14T10:00:00+08:00", 3) == {
        "receipt_day": "2026-02-14", "due_at": "2026-02-26T23:59:59+08:00"}
    # 20:30 UTC on 2-13 is already Saturday 2-14 in Shanghai.
    assert due(client, handler, "2026-02-13T20:30:00Z", 3)["receipt_day"] == "2026-02-14"
    # Received during the holiday: receipt Tue 2-24; 2-25, 2-26, 2-27.
    assert due(client, handler, "2026-02-18T09:00:00+08:00", 3) == {
        "receipt_day": "2026-02-24", "due_at": "2026-02-27T23:59:59+08:00"}
    # Zero days: the end of the receipt day.
    assert due(client, handler, "2026-02-18T09:00:00+08:00", 0)["due_at"] == "2026-02-24T23:59:59+08:00"


def test_admin_sets_and_clears_a_local_closure(app: Flask, client: FlaskClient, seeded: int,
                                               admin: dict[str, str], handler: dict[str, str]) -> None:
    # Received Mon 3-02, 3 days: 3-03, 3-04, Thu 3-05.
    assert due(client, handler, "2026-03-02T10:00:00+08:00", 3)["due_at"] == "2026-03-05T23:59:59+08:00"

    response = client.put(f"{CALENDAR}/2026-03-04", json={"kind": "closure", "name": "台风停止办公"}, headers=admin)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"day": "2026-03-04", "is_working_day": False, "kind": "closure",
                                   "name": "台风停止办公", "source": "local"}
    assert count_rows(app, "audit_records", action="calendar.day_set", object_id="2026-03-04") == 1
    # The closure moves the due date by one working day: 3-03, 3-05, Fri 3-06.
    assert due(client, handler, "2026-03-02T10:00:00+08:00", 3)["due_at"] == "2026-03-06T23:59:59+08:00"
    assert days_of(client, handler, "2026-03-04", "2026-03-04")["2026-03-04"]["source"] == "local"

    response = client.delete(f"{CALENDAR}/2026-03-04", headers=admin)
    assert response.status_code == 204
    assert count_rows(app, "audit_records", action="calendar.day_cleared", object_id="2026-03-04") == 1
    assert due(client, handler, "2026-03-02T10:00:00+08:00", 3)["due_at"] == "2026-03-05T23:59:59+08:00"
    assert days_of(client, handler, "2026-03-04", "2026-03-04")["2026-03-04"]["kind"] is None
    # Nothing left to clear.
    assert client.delete(f"{CALENDAR}/2026-03-04", headers=admin).status_code == 404


def test_clearing_a_local_override_restores_the_official_day(client: FlaskClient, seeded: int,
                                                             admin: dict[str, str]) -> None:
    # Sat 2026-02-28 is an official make-up working day; the district closes anyway.
    response = client.put(f"{CALENDAR}/2026-02-28", json={"kind": "closure", "name": "暴雪"}, headers=admin)
    assert response.get_json()["is_working_day"] is False
    assert client.delete(f"{CALENDAR}/2026-02-28", headers=admin).status_code == 204
    assert days_of(client, admin, "2026-02-28", "2026-02-28")["2026-02-28"] == {
        "day": "2026-02-28", "is_working_day": True, "kind": "workday", "name": "春节调休上班", "source": "official"}
    # An official day without a local override cannot be "cleared".
    assert client.delete(f"{CALENDAR}/2026-02-17", headers=admin).status_code == 404
    # A local make-up Saturday of our own.
    response = client.put(f"{CALENDAR}/2026-03-07", json={"kind": "workday", "name": "补班"}, headers=admin)
    assert response.get_json()["is_working_day"] is True


def test_who_may_do_what(client: FlaskClient, seeded: int, handler: dict[str, str],
                         resident_token: Callable[[str], str]) -> None:
    body = {"kind": "closure", "name": "台风"}
    assert client.put(f"{CALENDAR}/2026-03-04", json=body, headers=handler).status_code == 403
    assert client.delete(f"{CALENDAR}/2026-02-17", headers=handler).status_code == 403
    resident = bearer(resident_token("alice"))
    query = {"from": "2026-03-01", "to": "2026-03-31"}
    for headers in ({}, resident):
        assert client.get(CALENDAR, query_string=query, headers=headers).status_code == 401
        assert client.get(f"{CALENDAR}/due", query_string={"received_at": "2026-03-02T10:00:00+08:00", "days": 3},
                          headers=headers).status_code == 401
        assert client.put(f"{CALENDAR}/2026-03-04", json=body, headers=headers).status_code == 401
        assert client.delete(f"{CALENDAR}/2026-03-04", headers=headers).status_code == 401
    assert client.get(CALENDAR, query_string=query, headers=handler).status_code == 200


def test_operations_check_permission_themselves(app: Flask) -> None:
    handler = Actor(kind="staff", id="someone", roles=frozenset({"handler"}))
    with app.app_context():
        with pytest.raises(Forbidden):
            operations.set_day(handler, date(2026, 3, 4), "closure", "台风")
        with pytest.raises(Forbidden):
            operations.clear_day(handler, date(2026, 3, 4))
        with pytest.raises(Forbidden):
            operations.seed_official([2026], actor=handler)
        with pytest.raises(NotFound):
            operations.clear_day(SYSTEM, date(2026, 3, 4))


@pytest.mark.parametrize(("path", "query", "field"), [
    ("", {"from": "2026-01-01", "to": "2027-02-05"}, "to"),    # 401 days: 400 is the most
    ("", {"from": "2026-03-02", "to": "2026-03-01"}, "to"),
    ("", {"from": "2026-02-30", "to": "2026-03-01"}, "from"),
    ("", {"to": "2026-03-01"}, "from"),
    ("/due", {"received_at": "2026-03-02T10:00:00", "days": 3}, "received_at"),   # no offset
    ("/due", {"received_at": "yesterday", "days": 3}, "received_at"),
    ("/due", {"received_at": "2026-03-02T10:00:00+08:00", "days": -1}, "days"),
    ("/due", {"received_at": "2026-03-02T10:00:00+08:00"}, "days"),
])
def test_invalid_queries(client: FlaskClient, handler: dict[str, str], path: str, query: dict[str, Any],
                         field: str) -> None:
    response = client.get(f"{CALENDAR}{path}", query_string=query, headers=handler)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_the_longest_range(client: FlaskClient, handler: dict[str, str]) -> None:
    days = days_of(client, handler, "2026-01-01", "2027-02-04")  # 365 + 35 = 400 days
    assert len(days) == 400


@pytest.mark.parametrize(("day", "body", "field"), [
    ("2026-03-04", {"kind": "vacation", "name": "x"}, "kind"),
    ("2026-03-04", {"kind": "closure"}, "name"),
    ("2026-03-04", {"kind": "closure", "name": ""}, "name"),
    ("2026-03-04", {"kind": "closure", "name": "x", "colour": "red"}, "colour"),
    ("2026-02-30", {"kind": "closure", "name": "x"}, "day"),
    ("tomorrow", {"kind": "closure", "name": "x"}, "day"),
    ("20260304", {"kind": "closure", "name": "x"}, "day"),
])
def test_invalid_changes(app: Flask, client: FlaskClient, admin: dict[str, str], day: str, body: dict[str, Any],
                         field: str) -> None:
    response = client.put(f"{CALENDAR}/{day}", json=body, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert count_rows(app, "calendar_days") == 0
    assert count_rows(app, "audit_records", action="calendar.day_set") == 0


def test_seeding_is_idempotent_and_leaves_local_days_alone(app: Flask) -> None:
    with app.app_context():
        wanted = [d for d in (*chinese_calendar.holidays, *chinese_calendar.workdays) if d.year == 2026]
        assert operations.seed_official([2026]) == len(wanted)
        db.session.commit()
        assert operations.seed_official([2026]) == 0
        assert operations.seed_official(iter([2026])) == 0
        # National Day becomes a working day locally (say, a drill); seeding leaves that alone.
        operations.set_day(SYSTEM, date(2026, 10, 1), "workday", "演练")
        db.session.commit()
        assert operations.seed_official([2026]) == 0
        row = db.session.get(CalendarDay, date(2026, 10, 1))
        assert row is not None
        assert (row.kind, row.name, row.source) == ("workday", "演练", "local")
        # A corrected official entry is brought in line; a day the package no longer lists is removed.
        official = db.session.get(CalendarDay, date(2026, 10, 2))
        assert official is not None
        official.name = "旧名"
        db.session.add(CalendarDay(day=date(2026, 12, 25), kind="holiday", name="不存在", source="official"))
        db.session.commit()
        assert operations.seed_official([2026]) == 2
        db.session.commit()
        assert db.session.get(CalendarDay, date(2026, 10, 2)).name == "国庆节"  # type: ignore[union-attr]
        assert db.session.get(CalendarDay, date(2026, 12, 25)) is None
        assert operations.seed_official([]) == 0
        assert operations.official_years()[-1] >= 2026
    assert count_rows(app, "audit_records", action="calendar.seeded") == 2
    assert count_rows(app, "calendar_days", source="local") == 1


@pytest.fixture
def second_worker(settings: dict[str, Any], app: Flask) -> Iterator[Flask]:
    """Another app on the same database stands for another gunicorn worker with its own cache."""
    other = create_app({**settings, "CALENDAR_REFRESH_SECONDS": 0}, "testing")
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_another_worker_sees_a_change(app: Flask, second_worker: Flask, seeded: int) -> None:
    with second_worker.app_context():
        before = queries.load_calendar()
        assert before.is_working_day(date(2026, 3, 4))
        assert queries.load_calendar() is before  # cached while nothing changes
    with app.app_context():
        operations.set_day(SYSTEM, date(2026, 3, 4), "closure", "台风")
        db.session.commit()
    with second_worker.app_context():
        assert not queries.load_calendar().is_working_day(date(2026, 3, 4))
    with app.app_context():
        operations.clear_day(SYSTEM, date(2026, 3, 4))
        db.session.commit()
    with second_worker.app_context():
        assert queries.load_calendar().is_working_day(date(2026, 3, 4))


def test_a_rolled_back_change_never_reaches_the_cache(app: Flask, seeded: int) -> None:
    with app.app_context():
        cached = queries.load_calendar()
        operations.set_day(SYSTEM, date(2026, 3, 4), "closure", "台风")
        # The writing transaction sees its own change…
        assert not queries.load_calendar().is_working_day(date(2026, 3, 4))
        db.session.rollback()
    with app.app_context():
        # …and after the rollback everyone sees the committed calendar again.
        assert queries.load_calendar() is cached
        assert cached.is_working_day(date(2026, 3, 4))


def test_the_openapi_document_lists_the_calendar(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"/console/v1/calendar", "/console/v1/calendar/due", "/console/v1/calendar/{day}"} <= set(paths)
