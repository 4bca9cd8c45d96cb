"""Each statistic against figures worked out by hand from the fixed history (tests/analytics/conftest.py),
through the console API, on whichever database the run uses."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook

from tests.analytics.conftest import History

RANGE = {"from": "2026-03-02", "to": "2026-03-09"}


def stat(client: Any, headers: dict[str, str], name: str, **query: str) -> list[dict[str, Any]]:
    response = client.get(f"/console/v1/stats/{name}", headers=headers, query_string={**RANGE, **query})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["statistic"] == name
    return list(body["items"])


def by_group(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row.pop("group"): row for row in rows}


def test_backlog(client, login_as, history: History) -> None:
    rows = stat(client, login_as("admin"), "backlog")

    # at 00:00 on Tue 10 March: r4 (acceptance, 135 h old) and r5 (repair, 134 h), both past Mon 9 23:59:59
    assert rows == [{"group": "repair", "open": 2, "awaiting_resident": 0, "with_third_party": 0, "overdue": 2,
                     "median_age_hours": 134.0, "p90_age_hours": 135.0}]


def test_backlog_at_an_earlier_end_counts_who_stood_where_then(client, login_as, history: History) -> None:
    rows = by_group(stat(client, login_as("admin"), "backlog", to="2026-03-03"))

    # at 00:00 Wed 4: r2 in repair, r3 waiting on the resident since Tue 14:00, r6 with the third party
    assert rows["repair"]["open"] == 1
    assert rows["complaint"] == {"open": 1, "awaiting_resident": 1, "with_third_party": 0, "overdue": 0,
                                 "median_age_hours": 15.0, "p90_age_hours": 15.0}
    assert rows["disclosure"]["with_third_party"] == 1


def test_throughput_per_day_and_week(client, login_as, history: History) -> None:
    admin = login_as("admin")
    daily = [r for r in stat(client, admin, "throughput") if r["group"] == "repair"]

    assert [(r["period"], r["arrivals"], r["completions"], r["closures"]) for r in daily] == [
        ("2026-03-02", 2, 0, 0), ("2026-03-03", 0, 1, 1), ("2026-03-04", 2, 0, 0), ("2026-03-05", 1, 0, 1),
        ("2026-03-06", 0, 0, 0), ("2026-03-07", 0, 0, 0), ("2026-03-08", 0, 0, 0), ("2026-03-09", 0, 1, 1)]
    weekly = stat(client, admin, "throughput", granularity="week", group="all")
    # completed r1 (Tue 3), r6 (Thu 5); withdrawn r7; then r3 and r2 on Monday 9
    assert weekly == [{"group": "all", "period": "2026-03-02", "arrivals": 7, "completions": 2, "closures": 3},
                      {"group": "all", "period": "2026-03-09", "arrivals": 0, "completions": 2, "closures": 2}]


def test_cycle_times_on_time_rate_and_handling_against_waiting(client, login_as, history: History) -> None:
    rows = by_group(stat(client, login_as("admin"), "cycle-times"))

    assert rows["repair"] == {"closed": 2, "completed": 2, "rejected": 0, "on_time": 1, "on_time_rate": 0.5,
                              "median_hours": 24.0, "p90_hours": 168.0, "mean_hours": 96.0,
                              "handling_hours": 96.0, "resident_wait_hours": 0.0, "third_party_wait_hours": 0.0}
    assert rows["complaint"] == {"closed": 1, "completed": 1, "rejected": 0, "on_time": 1, "on_time_rate": 1.0,
                                 "median_hours": 144.0, "p90_hours": 144.0, "mean_hours": 144.0,
                                 "handling_hours": 96.0, "resident_wait_hours": 48.0, "third_party_wait_hours": 0.0}
    assert rows["disclosure"]["median_hours"] == 75.0
    assert (rows["disclosure"]["handling_hours"], rows["disclosure"]["third_party_wait_hours"]) == (27.0, 48.0)


def test_step_times(client, login_as, history: History) -> None:
    rows = {(r["service"], r["step"]): r for r in stat(client, login_as("admin"), "steps")}

    # acceptance of repairs: r7 1 h, r5 1 h, r1 2 h, r2 24 h (its transfer does not end the visit); r4 still there
    assert rows[("repair", "acceptance")] == {
        "group": "repair", "service": "repair", "step": "acceptance", "kind": "handling", "visits": 4,
        "median_hours": 1.0, "p90_hours": 24.0, "mean_hours": 7.0, "total_hours": 28.0, "open_at_end": 1}
    assert rows[("repair", "repair")]["visits"] == 2
    assert (rows[("repair", "repair")]["median_hours"], rows[("repair", "repair")]["p90_hours"]) == (22.0, 144.0)
    handling = rows[("complaint", "handling")]
    assert (handling["visits"], handling["median_hours"], handling["p90_hours"], handling["total_hours"]) == (
        3, 4.0, 20.0, 28.0)
    assert rows[("complaint", "supplement")]["kind"] == "resident"
    assert rows[("complaint", "supplement")]["total_hours"] == 48.0
    assert rows[("complaint", "return_visit")]["median_hours"] == 1.0
    assert rows[("complaint", "return_visit")]["p90_hours"] == 66.0
    assert rows[("disclosure", "third_party_opinion")]["kind"] == "third_party"
    assert not any(step in ("completed", "withdrawn", "closed", "replied") for _, step in rows)


def test_bottlenecks_rank_steps_by_waiting_time_by_default(client, login_as, history: History) -> None:
    rows = [r for r in stat(client, login_as("admin"), "bottlenecks") if r["group"] in ("complaint", "disclosure")]

    # waiting (on the resident or a third party) first; handling steps after, by all their time
    assert [(r["group"], r["rank"], r["step"], r["waiting_hours"], r["handling_hours"], r["total_hours"])
            for r in rows] == [
        ("complaint", 1, "supplement", 48.0, 0.0, 48.0), ("complaint", 2, "return_visit", 0.0, 67.0, 67.0),
        ("complaint", 3, "handling", 0.0, 28.0, 28.0), ("complaint", 4, "intake", 0.0, 1.0, 1.0),
        ("disclosure", 1, "third_party_opinion", 48.0, 0.0, 48.0),
        *[(r["group"], r["rank"], r["step"], 0.0, r["total_hours"], r["total_hours"]) for r in rows
          if r["group"] == "disclosure" and r["rank"] > 1]]
    assert len([r for r in rows if r["group"] == "disclosure"]) > 1
    handling = [r["step"] for r in stat(client, login_as("admin"), "bottlenecks", rank_by="handling")
                if r["group"] == "complaint"]
    assert handling == ["return_visit", "handling", "intake", "supplement"]


def test_bottlenecks_rank_steps_by_time_spent(client, login_as, history: History) -> None:
    rows = [r for r in stat(client, login_as("admin"), "bottlenecks", rank_by="elapsed")
            if r["group"] in ("repair", "complaint")]

    assert [(r["group"], r["rank"], r["step"], r["total_hours"], r["visits"], r["open_at_end"]) for r in rows] == [
        ("complaint", 1, "return_visit", 67.0, 2, 0), ("complaint", 2, "supplement", 48.0, 1, 0),
        ("complaint", 3, "handling", 28.0, 3, 0), ("complaint", 4, "intake", 1.0, 1, 0),
        # repair: 22 + 144 + r5 since Wed 11:00 (133 h); acceptance: 28 + r4 since Wed 09:00 (135 h)
        ("repair", 1, "repair", 299.0, 3, 1), ("repair", 2, "acceptance", 163.0, 5, 1)]


def test_overdue(client, login_as, history: History) -> None:
    rows = stat(client, login_as("admin"), "overdue")

    assert rows == [{"group": "repair", "open": 2, "overdue": 2, "step_overdue": 2,
                     "overdue_calendar_days_total": 2, "overdue_calendar_days_median": 1,
                     "overdue_calendar_days_max": 1, "closed_late": 1, "closed_late_calendar_days_total": 4,
                     "closed_late_calendar_days_max": 4}]


def test_days_overdue_two_and_more_days_after_the_limit(client, login_as, history: History) -> None:
    """r4 and r5 are due Mon 9 23:59:59; at 00:00 Wed 11 that is a day and a second: the second calendar day
    (SQLite's julianday once made it 86400.99999 s and lost it)."""
    admin = login_as("admin")
    for to, days in (("2026-03-10", 2), ("2026-03-12", 4)):
        [row] = stat(client, admin, "overdue", to=to)
        assert (row["overdue"], row["overdue_calendar_days_total"], row["overdue_calendar_days_median"],
                row["overdue_calendar_days_max"]) == (2, 2 * days, days, days), to
        assert (row["closed_late"], row["closed_late_calendar_days_max"]) == (1, 4)


def test_a_reopened_request_still_counts_where_it_was_decided(app, client, login_as, history: History) -> None:
    """Completions, cycle times and ratings come from the events: reopening r3 on Tue 10 (which clears its
    closed_at) does not take back its closing on Mon 9."""
    from service.core.db import db
    from service.requests import operations
    from service.requests.models import Request
    from tests.analytics.conftest import _Book, at

    admin = login_as("admin")
    before = {name: stat(client, admin, name, group="all") for name in ("throughput", "cycle-times", "ratings")}
    with app.app_context():
        supervisor = _Book().staff["service-center-supervisor"]
        request = db.session.get(Request, history.ids["r3"])
        operations.act(supervisor, request.id, "reopen", "居民再次反映", {}, request.version, at=at(10, 10))
        db.session.commit()
        assert db.session.get(Request, history.ids["r3"]).closed_at is None

    for name, rows in before.items():
        assert stat(client, admin, name, group="all") == rows, name
    assert before["cycle-times"][0]["closed"] == 4  # r1, r2, r3, r6
    assert [r["completions"] for r in before["throughput"]][-1] == 2  # r2 and r3 on Monday 9


def test_rework(client, login_as, history: History) -> None:
    rows = by_group(stat(client, login_as("admin"), "rework"))

    assert rows["repair"] == {"supplement_rounds": 0, "send_backs": 0, "transfers": 1, "reopens": 0,
                              "requests_active": 5, "requests_reworked": 1, "rework_rate": 0.2}
    assert rows["complaint"] == {"supplement_rounds": 1, "send_backs": 1, "transfers": 0, "reopens": 0,
                                 "requests_active": 1, "requests_reworked": 1, "rework_rate": 1.0}
    assert rows["disclosure"]["requests_reworked"] == 0


def test_ratings_and_follow_ups(client, login_as, history: History) -> None:
    rows = by_group(stat(client, login_as("admin"), "ratings"))

    assert rows["repair"] == {"ratings": 2, "level_1": 1, "level_2": 0, "level_3": 0, "level_4": 0, "level_5": 1,
                              "mean_level": 3.0, "satisfied_rate": 0.5, "follow_ups": 1, "follow_up_open": 1,
                              "follow_up_answered": 0, "follow_up_closed": 0, "follow_up_overdue": 0}
    assert (rows["complaint"]["ratings"], rows["complaint"]["level_4"]) == (1, 1)
    assert "disclosure" not in rows


def test_per_department_a_request_counts_for_each_department_it_went_through(client, login_as,
                                                                              history: History) -> None:
    rows = by_group(stat(client, login_as("admin"), "cycle-times", group="department"))

    assert {g: r["closed"] for g, r in rows.items()} == {"gov-office": 1, "housing": 1, "service-center": 1,
                                                          "urban": 3}
    # urban: r1 24 h, r3 144 h, r2 168 h
    assert (rows["urban"]["median_hours"], rows["urban"]["p90_hours"]) == (144.0, 168.0)


def test_a_supervisor_sees_their_subtree_only(client, login_as, history: History) -> None:
    urban = login_as("urban-supervisor")

    rows = stat(client, urban, "cycle-times", group="all")
    assert rows[0]["closed"] == 3  # r1, r2 (transferred away by urban), r3; not the disclosure
    assert by_group(stat(client, urban, "backlog", group="department")).keys() == {"urban"}
    assert [r["group"] for r in stat(client, urban, "rework")] == ["complaint", "repair"]
    outside = client.get("/console/v1/stats/backlog", headers=urban, query_string={**RANGE, "department": "housing"})
    assert outside.status_code == 403
    assert outside.mimetype == "application/problem+json"
    district = stat(client, login_as("district-supervisor"), "cycle-times", group="all", department="housing")
    assert district[0]["closed"] == 1


def test_service_filter(client, login_as, history: History) -> None:
    assert [r["group"] for r in stat(client, login_as("admin"), "steps", service="complaint")] == ["complaint"] * 4


def test_csv_and_xlsx_carry_the_same_rows(client, login_as, history: History) -> None:
    admin = login_as("admin")
    for name in ("backlog", "throughput", "cycle-times", "steps", "bottlenecks", "overdue", "rework", "ratings"):
        rows = stat(client, admin, name)

        as_csv = client.get(f"/console/v1/stats/{name}", headers=admin, query_string={**RANGE, "format": "csv"})
        assert as_csv.status_code == 200
        assert as_csv.mimetype == "text/csv"
        assert "attachment" in as_csv.headers["Content-Disposition"]
        table = list(csv.DictReader(io.StringIO(as_csv.get_data().decode("utf-8-sig"))))
        assert len(table) == len(rows)
        assert [r["group"] for r in table] == [r["group"] for r in rows]
        assert [{k: v for k, v in r.items() if v != ""} for r in table] == [
            {k: str(v) for k, v in r.items() if v is not None} for r in rows]
        as_xlsx = client.get(f"/console/v1/stats/{name}", headers=admin, query_string={**RANGE, "format": "xlsx"})
        assert as_xlsx.status_code == 200
        sheet = load_workbook(io.BytesIO(as_xlsx.get_data()), read_only=True)[name]
        header, *values = list(sheet.values)
        assert set(header) == set(rows[0])

        def cell(value: Any) -> Any:
            return value.date().isoformat() if isinstance(value, datetime) else value

        assert [[cell(v) for v in row] for row in values] == [[r[k] for k in header] for r in rows]


def test_bad_parameters(client, login_as, history: History) -> None:
    admin = login_as("admin")
    for query, field in (({"from": "2026-03-09", "to": "2026-03-02"}, "to"), ({"to": "2026-03-02"}, "from"),
                         ({**RANGE, "group": "team"}, "group"), ({**RANGE, "format": "pdf"}, "format"),
                         ({"from": "2024-01-01", "to": "2026-03-02"}, "to"), ({**RANGE, "service": "nope"}, "service"),
                         ({**RANGE, "department": "nope"}, "department"),
                         ({"from": "0001-01-01", "to": "2026-03-02"}, "from"),
                         ({"from": "2026-03-02", "to": "9999-12-31"}, "to"),
                         ({"from": "1999-12-31", "to": "2000-01-01"}, "from"),
                         ({**RANGE, "rank_by": "fun"}, "rank_by")):
        response = client.get("/console/v1/stats/backlog", headers=admin, query_string=query)
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
        assert field in response.get_json()["errors"]


def test_step_figures_agree_with_the_engines_timing(app, client, login_as, history: History) -> None:
    """The SQL cuts visits exactly as service.engine.timing does, and splits handling from waiting the same way."""
    import sqlalchemy as sa

    from service.calendar.queries import load_calendar, time_zone
    from service.catalog.models import Service
    from service.core.db import db
    from service.engine.timing import step_visits, time_split
    from service.processes.queries import definition_by_id
    from service.requests.models import Request, RequestEvent
    from service.requests.operations import event_of

    rows = {(r["service"], r["step"]): r for r in stat(client, login_as("admin"), "steps")}
    cycle = by_group(stat(client, login_as("admin"), "cycle-times"))
    end = datetime.fromisoformat("2026-03-10T00:00:00+08:00")
    expected: dict[tuple[str, str], list[float]] = {}
    split: dict[str, list[float]] = {}
    with app.app_context():
        calendar, tz = load_calendar(), time_zone()
        for request, service in db.session.execute(
                sa.select(Request, Service.code).join(Service, Service.id == Request.service_id)).all():
            events = db.session.execute(sa.select(RequestEvent).where(RequestEvent.request_id == request.id)
                                        .order_by(RequestEvent.seq)).scalars().all()
            visits = step_visits(definition_by_id(request.process_version_id), [event_of(e) for e in events],
                                 calendar, tz, end)
            for visit in visits:
                if visit.left_at is not None and visit.left_at < end:
                    expected.setdefault((service, visit.step), []).append(visit.seconds)
            if request.status in ("completed", "rejected"):
                total = split.setdefault(service, [0.0, 0.0, 0.0, 0.0])
                parts = time_split(visits)
                total[0] += 1
                total[1] += parts.handling_seconds
                total[2] += parts.resident_seconds
                total[3] += parts.third_party_seconds

    assert {key: (row["visits"], row["total_hours"]) for key, row in rows.items() if row["visits"]} == {
        key: (len(seconds), round(sum(seconds) / 3600, 2)) for key, seconds in expected.items()}
    for service, (n, handling, resident, third_party) in split.items():
        assert (cycle[service]["handling_hours"], cycle[service]["resident_wait_hours"],
                cycle[service]["third_party_wait_hours"]) == (
            round(handling / n / 3600, 2), round(resident / n / 3600, 2), round(third_party / n / 3600, 2))
