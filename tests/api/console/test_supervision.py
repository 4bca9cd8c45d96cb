"""Supervision (督办): a supervisor flags a request they oversee, with a reminder; resolving it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import count_rows


def test_flag_remind_and_resolve(client, login_as, submit_request, app):
    request_id = submit_request("repair")
    supervisor = login_as("urban-supervisor")
    remind_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    flagged = client.post(f"/console/v1/requests/{request_id}/supervisions", headers=supervisor,
                          json={"comment": "请加快处理，居民多次来电", "remind_at": remind_at})
    assert flagged.status_code == 201, flagged.get_json()
    supervision = flagged.get_json()
    detail = client.get(f"/console/v1/requests/{request_id}", headers=login_as("urban-handler")).get_json()
    assert [s["comment"] for s in detail["supervisions"]] == ["请加快处理，居民多次来电"]
    tasks = client.get("/console/v1/tasks?supervised=true", headers=login_as("urban-handler")).get_json()
    assert [t["id"] for t in tasks["items"]] == [request_id]

    reminders = client.get("/console/v1/supervisions", headers=supervisor).get_json()["items"]
    assert [r["id"] for r in reminders] == [supervision["id"]]
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.get("/console/v1/supervisions", headers=supervisor,
                      query_string={"due_before": soon}).get_json()["items"] == []

    url = f"/console/v1/requests/{request_id}/supervisions/{supervision['id']}/resolve"
    assert client.post(url, headers=login_as("urban-handler")).status_code == 403
    resolved = client.post(url, headers=supervisor)
    assert resolved.status_code == 200
    assert resolved.get_json()["resolved_at"] is not None
    assert client.post(url, headers=supervisor).status_code == 409
    assert client.get("/console/v1/tasks?supervised=true", headers=login_as("urban-handler")).get_json()["items"] == []
    assert count_rows(app, "audit_records", action="request.supervised") == 1
    assert count_rows(app, "audit_records", action="request.supervision_resolved") == 1


def test_only_supervisors_who_oversee_the_request(client, login_as, submit_request, app):
    request_id = submit_request("repair")
    url = f"/console/v1/requests/{request_id}/supervisions"
    assert client.post(url, headers=login_as("urban-handler"), json={"comment": "x"}).status_code == 403
    assert client.post(url, headers=login_as("housing-supervisor"), json={"comment": "x"}).status_code == 403
    assert client.post(url, headers=login_as("district-supervisor"), json={"comment": "区级督办"}).status_code == 201
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    late = client.post(url, headers=login_as("urban-supervisor"), json={"comment": "x", "remind_at": past})
    assert late.status_code == 422
    assert set(late.get_json()["errors"]) == {"remind_at"}
    assert client.post(url, headers=login_as("urban-supervisor"), json={"comment": ""}).status_code == 422
    assert count_rows(app, "request_supervisions") == 1
