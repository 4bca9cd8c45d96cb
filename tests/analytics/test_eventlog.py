"""The event log exports (XES, OCEL 2.0, CSV) against the database: counts, content, no personal data,
streaming, the department scope, and a process model discovered from the XES by pm4py."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner

from tests.analytics.conftest import History
from tests.conftest import count_rows

PERSONAL = ("居民a", "居民b", "13800138000", "属住建局管辖", "已再次处理", "o-history-")


def cases(app: Any, history: History) -> dict[str, str]:
    """The case id (keyed pseudonym) of each request of the history, by its name (r1…r7)."""
    from service.analytics.eventlog import _pseudonym_key, case_id

    with app.app_context():
        key = _pseudonym_key()
    return {name: case_id(key, request_id) for name, request_id in history.ids.items() if name.startswith("r")}


def export(client: Any, headers: dict[str, str], fmt: str, **query: str) -> Any:
    response = client.get("/console/v1/stats/event-log", headers=headers, query_string={"format": fmt, **query})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_streamed
    return response


@pytest.mark.filterwarnings("ignore:Install the optional requirement")
def test_xes_reads_in_pm4py_with_the_databases_counts_and_yields_a_process_model(app, client, login_as,
                                                                                  history: History, tmp_path):
    import pm4py

    response = export(client, login_as("admin"), "xes")
    assert response.mimetype == "application/xml"
    text = response.get_data(as_text=True)
    path = tmp_path / "log.xes"
    path.write_text(text, encoding="utf-8")

    log = pm4py.read_xes(str(path))
    assert log["case:concept:name"].nunique() == count_rows(app, "requests") == 7
    assert len(log) == count_rows(app, "request_events") == 25
    r2 = log[log["case:concept:name"] == cases(app, history)["r2"]]
    assert list(r2["concept:name"]) == ["submit", "transfer", "accept", "complete"]
    assert list(r2["org:resource"]) == ["resident", "urban", "housing", "urban"]
    net, initial, final = pm4py.discover_petri_net_inductive(log)
    labels = {t.label for t in net.transitions if t.label}
    assert {"submit", "accept", "complete", "dispatch", "reply", "withdraw"} <= labels
    # the inductive miner guarantees a model that replays every trace of the log
    assert pm4py.fitness_token_based_replay(log, net, initial, final)["log_fitness"] == 1.0
    for secret in (*PERSONAL, *history.residents.values(), *history.ids.values()):
        assert secret not in text
    assert "nested-attributes" not in text

    ocel_path = tmp_path / "log.jsonocel"
    ocel_path.write_bytes(export(client, login_as("admin"), "ocel").get_data())
    ocel = pm4py.read_ocel2_json(str(ocel_path))
    assert len(ocel.events) == 25
    assert set(ocel.objects["ocel:type"]) == {"request", "department", "resident"}


def test_ocel_objects_and_relationships(app, client, login_as, history: History):
    text = export(client, login_as("admin"), "ocel").get_data(as_text=True)
    document = json.loads(text)

    objects = {o["id"]: o for o in document["objects"]}
    by_type: dict[str, int] = {}
    for o in objects.values():
        by_type[o["type"]] = by_type.get(o["type"], 0) + 1
    assert by_type["request"] == 7
    assert by_type["resident"] == 4  # a, b, c, d: pseudonyms, stable and keyed
    assert by_type["department"] == count_rows(app, "departments")
    assert len(document["events"]) == 25
    assert {t["name"] for t in document["eventTypes"]} >= {"submit", "transfer", "supplement", "withdraw"}
    for event in document["events"]:
        assert all(r["objectId"] in objects for r in event["relationships"])
    supplement = next(e for e in document["events"] if e["type"] == "supplement")
    r3 = objects[cases(app, history)["r3"]]
    applicant = r3["relationships"][0]["objectId"]
    assert {"objectId": applicant, "qualifier": "acted by"} in supplement["relationships"]
    # the status is stamped with when it was reached: r3 closed on Mon 9 March 09:00 in Shanghai
    assert {"name": "status", "time": "2026-03-09T01:00:00.000+00:00", "value": "completed"} in r3["attributes"]
    for secret in (*PERSONAL, *history.residents.values(), *history.ids.values()):
        assert secret not in text


def test_csv_through_the_cli_with_filters(app, history: History, tmp_path, monkeypatch):
    from service import cli

    monkeypatch.setattr(cli, "create_app", lambda: app)
    out = tmp_path / "events.csv"
    result = CliRunner().invoke(cli.main, ["export", "events", "--format", "csv", "--service", "repair", "--from",
                                           "2026-03-04", "--to", "2026-03-05", "-o", str(out)])
    assert result.exit_code == 0, result.output

    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    # r4 (submit), r5 (submit, accept), r7 (submit, withdraw)
    assert len(rows) == 5
    assert {r["case_id"] for r in rows} == {cases(app, history)[k] for k in ("r4", "r5", "r7")}
    assert list(rows[0]) == ["case_id", "activity", "timestamp", "resource", "role", "service", "from_step",
                             "to_step"]
    # r4 was submitted on Wednesday 4 March at 09:00 in Shanghai
    r4 = cases(app, history)["r4"]
    assert next(r for r in rows if r["case_id"] == r4)["timestamp"] == "2026-03-04T01:00:00.000+00:00"


def test_a_supervisor_exports_their_subtree_only(app, client, login_as, history: History):
    text = export(client, login_as("urban-supervisor"), "csv").get_data(as_text=True)

    found = {row["case_id"] for row in csv.DictReader(io.StringIO(text))}
    assert found == {cases(app, history)[k] for k in ("r1", "r2", "r3", "r4", "r5")}


def test_the_three_formats_share_the_pseudonymous_case_ids_and_say_what_they_are(app, client, login_as,
                                                                                  history: History):
    admin = login_as("admin")
    expected = set(cases(app, history).values())
    as_csv = export(client, admin, "csv")
    assert as_csv.mimetype == "text/csv"
    text = as_csv.get_data(as_text=True)
    assert text.count("\r\n") == len(text.splitlines()) == 26  # RFC 4180 line ends, as the statistics' CSV
    assert {row["case_id"] for row in csv.DictReader(io.StringIO(text))} == expected
    ocel = export(client, admin, "ocel")
    assert ocel.mimetype == "application/json"
    assert {o["id"] for o in json.loads(ocel.get_data())["objects"] if o["type"] == "request"} == expected
    xes = export(client, admin, "xes").get_data(as_text=True)
    assert all(f'value="{case}"' in xes for case in expected)
    for body in (text, ocel.get_data(as_text=True), xes):
        assert not any(request_id in body for request_id in history.ids.values())


def test_dates_outside_the_supported_years_are_refused(app, client, login_as, history: History, monkeypatch):
    from service import cli

    admin = login_as("admin")
    for query, field in (({"from": "0001-01-01"}, "from"), ({"to": "9999-12-31"}, "to"),
                         ({"from": "2026-03-09", "to": "2026-03-02"}, "to")):
        response = client.get("/console/v1/stats/event-log", headers=admin, query_string={"format": "csv", **query})
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
        assert field in response.get_json()["errors"]

    monkeypatch.setattr(cli, "create_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["export", "events", "--format", "csv", "--to", "9999-12-31"])
    assert result.exit_code != 0
    assert "2000" in result.output
    assert "Traceback" not in result.output


def test_the_export_reads_one_snapshot(app, history: History):
    """A request submitted, and an action taken, after the export began are in none of its parts."""
    from service.analytics import eventlog
    from service.core.auth import SYSTEM
    from service.core.db import db
    from service.requests import operations
    from service.requests.models import Request
    from tests.analytics.conftest import _Book, at

    with app.app_context():
        export = eventlog.prepare(SYSTEM, "ocel")
        chunks = export.chunks()
        head = next(chunks)  # the event types are read: the snapshot is taken
        with app.app_context():  # another session, another connection
            book = _Book()
            late = book.submit("repair", "late", at(11, 9))
            r4 = db.session.get(Request, history.ids["r4"])
            operations.act(book.staff["urban-handler"], r4.id, "accept", None, {}, r4.version, at=at(11, 10))
            db.session.commit()
        document = json.loads(head + "".join(chunks))
        key = eventlog._pseudonym_key()

    objects = {o["id"] for o in document["objects"]}
    assert eventlog.case_id(key, late) not in objects
    assert len([o for o in objects if o.startswith("request:")]) == 7
    assert len(document["events"]) == 25
    assert all(r["objectId"] in objects for e in document["events"] for r in e["relationships"])


def test_an_export_from_sqlite_leaves_writers_free(app, history: History, database_url: str):
    """Even where the caller runs with write intent (the CLI), the export holds no write lock while it
    streams: another connection can write meanwhile."""
    import sqlite3

    from service.analytics import eventlog
    from service.core.auth import SYSTEM

    if not database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's locking")
    with app.app_context():
        export = eventlog.prepare(SYSTEM, "csv", service="repair")
        chunks = export.chunks()
        parts = [next(chunks), next(chunks)]  # the header, then rows read in the export's transaction
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE services SET name = name")
            other.execute("COMMIT")
        finally:
            other.close()
        parts.extend(chunks)
    assert len("".join(parts).splitlines()) == 1 + 12  # the header and the events of the repairs
