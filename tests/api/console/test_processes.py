"""Process definitions through the console: upload (validated, versioned), activate, compare, migrate."""

from __future__ import annotations

import copy

import sqlalchemy as sa

from service.accounts.models import Department
from service.core.db import db
from service.processes.builtin import builtin_definition_data
from service.requests.models import Request, RequestAssignee, RequestEvent
from tests.conftest import count_rows


def repair_v2() -> dict:
    data = copy.deepcopy(builtin_definition_data("repair"))
    # a new inspection step between repair and completion
    repair = next(s for s in data["steps"] if s["key"] == "repair")
    repair["actions"][0]["to"] = "inspection"
    data["steps"].insert(2, {"key": "inspection", "kind": "task", "name": "验收", "public_name": "正在验收",
                             "assignee": {"department": "urban", "role": "supervisor"},
                             "actions": [{"action": "approve", "to": "completed"}]})
    return data


def upload(client, headers, definition, activate=False):
    return client.post("/console/v1/processes", headers=headers,
                       json={"definition": definition, "activate": activate})


def test_upload_validates_and_names_the_offending_step(client, login_as, app):
    admin = login_as("admin")
    broken = repair_v2()
    broken["steps"][2]["actions"][0]["to"] = "nowhere"
    broken["steps"][3]["assignee"] = {"department": "water"}
    response = upload(client, admin, broken)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert errors["steps.inspection.actions.approve.to"] == ["unknown step 'nowhere'"]
    assert count_rows(app, "process_versions", code="repair") == 1


def test_upload_makes_a_new_version_and_activation_leaves_running_requests_alone(client, login_as, submit_request,
                                                                                 app):
    admin = login_as("admin")
    running = submit_request("repair")
    created = upload(client, admin, repair_v2())
    assert created.status_code == 201
    assert (created.get_json()["version"], created.get_json()["active"]) == (2, False)
    again = upload(client, admin, repair_v2())
    assert again.get_json()["id"] == created.get_json()["id"]  # the same definition twice is one version

    activated = client.post("/console/v1/processes/repair/versions/2/activate", headers=admin)
    assert activated.status_code == 200
    assert activated.get_json()["active"] is True
    versions = client.get("/console/v1/processes/repair/versions", headers=admin).get_json()["items"]
    assert [(v["version"], v["active"]) for v in versions] == [(1, False), (2, True)]

    handler = login_as("urban-handler")
    old = client.get(f"/console/v1/requests/{running}", headers=handler).get_json()
    assert old["process_version"] == 1
    newer = submit_request("repair")
    assert client.get(f"/console/v1/requests/{newer}", headers=handler).get_json()["process_version"] == 2


def test_compare_versions(client, login_as):
    admin = login_as("admin")
    upload(client, admin, repair_v2())
    comparison = client.get("/console/v1/processes/repair/compare?from=1&to=2", headers=admin)
    assert comparison.status_code == 200
    body = comparison.get_json()
    assert body["steps_added"] == ["inspection"]
    assert body["steps_removed"] == []
    assert body["steps_changed"] == {"repair": ["action complete changed"]}


def test_migration_dry_run_then_real(client, login_as, submit_request, app):
    admin = login_as("admin")
    movable = submit_request("repair")
    handler = login_as("urban-handler")
    finished = submit_request("repair")
    client.post(f"/console/v1/requests/{finished}/actions", headers=handler,
                json={"action": "reject", "comment": "重复报修", "expected_version": 1})
    changed = copy.deepcopy(repair_v2())
    changed["steps"] = [s for s in changed["steps"] if s["key"] not in ("acceptance", "rejected", "withdrawn")]
    changed["initial_step"] = "repair"
    assert upload(client, admin, changed).status_code == 201
    second = submit_request("repair")
    assert upload(client, admin, repair_v2()).status_code == 201  # version 3 keeps "acceptance"
    # version 2 lacks the step both running requests stand on; version 3 has it

    dry = client.post("/console/v1/processes/repair/migrations", headers=admin,
                      json={"from_version": 1, "to_version": 2, "dry_run": True})
    assert dry.status_code == 200
    assert dry.get_json()["movable"] == []
    assert set(dry.get_json()["blocked"]) == {movable, second}

    dry = client.post("/console/v1/processes/repair/migrations", headers=admin,
                      json={"from_version": 1, "to_version": 3, "dry_run": True}).get_json()
    assert sorted(dry["movable"]) == sorted([movable, second])
    with app.app_context():
        assert db.session.get(Request, movable).process_version_id == db.session.get(Request, second).process_version_id

    real = client.post("/console/v1/processes/repair/migrations", headers=admin,
                       json={"from_version": 1, "to_version": 3, "dry_run": False})
    assert real.status_code == 200
    assert sorted(real.get_json()["movable"]) == sorted([movable, second])
    with app.app_context():
        events = db.session.execute(sa.select(RequestEvent).where(RequestEvent.request_id == movable,
                                                                  RequestEvent.action == "migrate")).scalars().all()
        assert [(e.data["from_version"], e.data["to_version"]) for e in events] == [(1, 3)]
    view = client.get(f"/console/v1/requests/{movable}", headers=handler).get_json()
    assert view["process_version"] == 3
    assert view["current_step"] == "acceptance"
    assert count_rows(app, "audit_records", action="process.migrated") == 1


def test_a_migrated_request_stays_with_the_department_it_is_with(client, login_as, submit_request, app):
    admin = login_as("admin")
    running = submit_request("repair")  # at "acceptance", with urban
    moved = copy.deepcopy(builtin_definition_data("repair"))
    next(s for s in moved["steps"] if s["key"] == "acceptance")["assignee"] = {"department": "housing",
                                                                                "role": "handler"}
    assert upload(client, admin, moved, activate=True).status_code == 201
    migrated = client.post("/console/v1/processes/repair/migrations", headers=admin,
                           json={"from_version": 1, "to_version": 2, "dry_run": False})
    assert migrated.get_json()["movable"] == [running]
    arrived = submit_request("repair")  # starts on version 2: with housing

    def queue(request_id: str) -> list[str]:
        with app.app_context():
            return list(db.session.execute(
                sa.select(Department.code).join(RequestAssignee, RequestAssignee.department_id == Department.id)
                .where(RequestAssignee.request_id == request_id)).scalars())

    assert queue(running) == ["urban"]
    assert queue(arrived) == ["housing"]
    urban = client.get("/console/v1/tasks", headers=login_as("urban-handler")).get_json()["items"]
    assert [task["id"] for task in urban] == [running]


def test_only_administrators_manage_processes(client, login_as):
    handler = login_as("urban-handler")
    assert upload(client, handler, repair_v2()).status_code == 403
    assert client.post("/console/v1/processes/repair/versions/1/activate", headers=handler).status_code == 403
    assert client.get("/console/v1/processes", headers=handler).status_code == 200
    schema = client.get("/console/v1/processes/schema", headers=handler).get_json()
    assert schema["title"] == "civicdesk process definition"


def test_process_load_command(app, demo, tmp_path):
    import yaml

    path = tmp_path / "repair.yaml"
    path.write_text(yaml.safe_dump(repair_v2(), allow_unicode=True), encoding="utf-8")
    runner = app.test_cli_runner()
    from service.cli import process_load

    result = runner.invoke(process_load, [str(path), "--activate"], obj=app)
    assert result.exit_code == 0, result.output
    assert "process repair version 2 (active)" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\ncode: x\n", encoding="utf-8")
    result = runner.invoke(process_load, [str(bad)], obj=app)
    assert result.exit_code == 1
    assert "invalid" in result.output
