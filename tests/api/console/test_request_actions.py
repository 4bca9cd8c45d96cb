"""Staff act on requests through the console API: the engine's decisions, persisted, one event each."""

from __future__ import annotations

import sqlalchemy as sa

from service.core.db import db
from service.engine.runtime import replay
from service.processes.models import ProcessVersion
from service.processes.queries import definition_of
from service.requests.models import Request, RequestEvent
from service.requests.operations import event_of, view_state
from tests.conftest import count_rows


def act(client, headers, request_id, action, version, **body):
    return client.post(f"/console/v1/requests/{request_id}/actions", headers=headers,
                       json={"action": action, "expected_version": version, **body})


def test_a_repair_through_its_process(client, login_as, submit_request, app):
    request_id = submit_request("repair")
    handler = login_as("urban-handler")
    detail = client.get(f"/console/v1/requests/{request_id}", headers=handler)
    assert detail.status_code == 200
    body = detail.get_json()
    assert body["status"] == "submitted"
    assert body["current_step"] == "acceptance"
    assert body["allowed_actions"] == ["accept", "reject", "transfer", "claim"]
    assert detail.headers["ETag"] == f'"{body["version"]}"'

    accepted = act(client, handler, request_id, "accept", body["version"])
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["current_step"] == "repair"
    assert accepted.get_json()["status"] == "in_progress"
    done = act(client, handler, request_id, "complete", accepted.get_json()["version"], comment="已更换灯泡")
    assert done.get_json()["status"] == "completed"
    assert done.get_json()["closed_at"] is not None
    assert [e["action"] for e in done.get_json()["events"]] == ["submit", "accept", "complete"]
    assert [(s["step"], s["waiting"]) for s in done.get_json()["steps"]] == [("acceptance", None), ("repair", None)]
    assert all(s["left_at"] is not None for s in done.get_json()["steps"])
    assert count_rows(app, "audit_records", object_id=request_id) == 3

    with app.app_context():
        request = db.session.get(Request, request_id)
        rows = db.session.execute(sa.select(RequestEvent).where(RequestEvent.request_id == request_id)
                                  .order_by(RequestEvent.seq)).scalars()
        definition = definition_of(db.session.get(ProcessVersion, request.process_version_id))
        assert replay(definition, [event_of(row) for row in rows]) == view_state(request)


def test_illegal_action_is_409_with_allowed_actions_and_changes_nothing(client, login_as, submit_request, app):
    request_id = submit_request("repair")
    handler = login_as("urban-handler")
    response = act(client, handler, request_id, "complete", 1)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["allowed_actions"] == ["accept", "reject", "transfer", "claim"]
    assert count_rows(app, "request_events", request_id=request_id) == 1


def test_another_department_is_refused(client, login_as, submit_request, app):
    request_id = submit_request("repair")
    response = act(client, login_as("housing-handler"), request_id, "accept", 1)
    assert response.status_code == 403
    assert client.get(f"/console/v1/requests/{request_id}", headers=login_as("housing-handler")).status_code == 404
    assert count_rows(app, "request_events", request_id=request_id) == 1


def test_stale_version_is_409_and_changes_nothing(client, login_as, submit_request, app):
    request_id = submit_request("repair")
    handler = login_as("urban-handler")
    assert act(client, handler, request_id, "claim", 1).status_code == 200
    stale = act(client, handler, request_id, "accept", 1)
    assert stale.status_code == 409
    assert stale.get_json()["current_version"] == 2
    assert count_rows(app, "request_events", request_id=request_id) == 2
    assert client.get(f"/console/v1/requests/{request_id}", headers=handler).get_json()["current_step"] == "acceptance"


def test_invalid_action_data_is_422(client, login_as, submit_request):
    request_id = submit_request("repair")
    handler = login_as("urban-handler")
    response = act(client, handler, request_id, "transfer", 1, data={"department": "housing"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"comment"}
    response = act(client, handler, request_id, "transfer", 1, data={"department": "nowhere"}, comment="x")
    assert response.get_json()["errors"] == {"data.department": ["Unknown department."]}


def test_transfer_moves_the_queue_to_the_other_department(client, login_as, submit_request):
    request_id = submit_request("repair")
    urban, housing = login_as("urban-handler"), login_as("housing-handler")
    moved = act(client, urban, request_id, "transfer", 1, data={"department": "housing"}, comment="属住建职责")
    assert moved.status_code == 200
    body = moved.get_json()
    assert body["assignees"][0]["role"] == "handler"
    assert body["allowed_actions"] == []  # urban handled it and may still read it, but no longer act
    housing_view = client.get(f"/console/v1/requests/{request_id}", headers=housing).get_json()
    assert housing_view["allowed_actions"][0] == "accept"


def test_permit_countersign_by_two_departments(client, login_as, submit_request):
    request_id = submit_request("permit")
    center = login_as("service-center-handler")
    version = act(client, center, request_id, "accept", 1).get_json()["version"]
    market, environment = login_as("market-handler"), login_as("environment-handler")
    signed = act(client, market, request_id, "countersign", version, data={"decision": "agree"})
    assert signed.status_code == 200, signed.get_json()
    assert signed.get_json()["countersign"]["pending"] == ["environment"]
    again = act(client, market, request_id, "countersign", signed.get_json()["version"], data={"decision": "agree"})
    assert again.status_code == 403
    done = act(client, environment, request_id, "countersign", signed.get_json()["version"],
               data={"decision": "agree"})
    assert done.get_json()["current_step"] == "decision"
    assert done.get_json()["allowed_actions"] == []  # a handler; the decision is the supervisor's
    decided = act(client, login_as("market-supervisor"), request_id, "approve", done.get_json()["version"])
    assert decided.get_json()["status"] == "completed"
