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
    r2 = log[log["case:concept:name"] == history.ids["r2"]]
    assert list(r2["concept:name"]) == ["submit", "transfer", "accept", "complete"]
    assert list(r2["org:resource"]) == ["resident", "urban", "housing", "urban"]
    net, initial, final = pm4py.discover_petri_net_inductive(log)
    labels = {t.label for t in net.transitions if t.label}
    assert {"submit", "accept", "complete", "dispatch", "reply", "withdraw"} <= labels
    # the inductive miner guarantees a model that replays every trace of the log
    assert pm4py.fitness_token_based_replay(log, net, initial, final)["log_fitness"] == 1.0
    for secret in (*PERSONAL, *history.residents.values()):
        assert secret not in text

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
    applicant = objects[f"request:{history.ids['r3']}"]["relationships"][0]["objectId"]
    assert {"objectId": applicant, "qualifier": "acted by"} in supplement["relationships"]
    for secret in (*PERSONAL, *history.residents.values()):
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
    assert {r["case_id"] for r in rows} == {history.ids[k] for k in ("r4", "r5", "r7")}
    assert list(rows[0]) == ["case_id", "activity", "timestamp", "resource", "role", "service", "from_step",
                             "to_step"]
    # r4 was submitted on Wednesday 4 March at 09:00 in Shanghai
    assert next(r for r in rows if r["case_id"] == history.ids["r4"])["timestamp"] == "2026-03-04T01:00:00.000+00:00"


def test_a_supervisor_exports_their_subtree_only(client, login_as, history: History):
    text = export(client, login_as("urban-supervisor"), "csv").get_data(as_text=True)

    cases = {row["case_id"] for row in csv.DictReader(io.StringIO(text))}
    assert cases == {history.ids[k] for k in ("r1", "r2", "r3", "r4", "r5")}
