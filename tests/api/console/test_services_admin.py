"""Administrators manage the catalog: create a service with a validated form and materials, change it,
withdraw it from the public catalog."""

from __future__ import annotations

from tests.conftest import count_rows

NEW = {
    "code": "noise", "name": "噪音投诉", "category": "complaint", "process_code": "complaint",
    "time_limit_working_days": 15,
    "form": {"fields": [{"key": "where", "label": "地点", "type": "address", "required": True},
                        {"key": "when", "label": "时间", "type": "date", "required": False}]},
    "materials": [{"key": "recording", "name": "录音或视频", "required": False, "types": ["image/jpeg"],
                   "max_bytes": 1048576}],
}


def test_create_change_and_withdraw_a_service(client, login_as, app):
    admin = login_as("admin")
    created = client.post("/console/v1/services", headers=admin, json=NEW)
    assert created.status_code == 201, created.get_json()
    service = created.get_json()
    assert (service["code"], service["active"], service["version"]) == ("noise", True, 1)
    public = client.get(f"/mp/v1/services/{service['id']}").get_json()
    assert public["process"]["code"] == "complaint"
    assert [f["key"] for f in public["form"]["fields"]] == ["where", "when"]

    renamed = client.patch(f"/console/v1/services/{service['id']}", headers=admin,
                           json={"name": "噪声扰民投诉", "expected_version": 1})
    assert renamed.status_code == 200
    assert renamed.get_json()["name"] == "噪声扰民投诉"
    assert client.patch(f"/console/v1/services/{service['id']}", headers=admin,
                        json={"name": "x", "expected_version": 1}).status_code == 409
    withdrawn = client.patch(f"/console/v1/services/{service['id']}", headers=admin,
                             json={"active": False, "expected_version": 2})
    assert withdrawn.get_json()["active"] is False
    assert client.get(f"/mp/v1/services/{service['id']}").status_code == 404
    listed = client.get("/console/v1/services?include_inactive=true&limit=100", headers=admin).get_json()
    assert "noise" in [s["code"] for s in listed["items"]]
    assert count_rows(app, "audit_records", object_id=service["id"]) == 3


def test_invalid_definitions_are_refused_with_their_place(client, login_as, app):
    admin = login_as("admin")
    bad = {**NEW, "process_code": "nothing",
           "form": {"fields": [{"key": "kind", "label": "类别", "type": "choice", "required": True}]},
           "materials": [{"key": "x", "name": "x", "required": True, "types": ["text/html"], "max_bytes": 10}]}
    response = client.post("/console/v1/services", headers=admin, json=bad)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "process_code" in errors
    assert any(key.startswith("form.fields.kind") for key in errors)
    assert any(key.startswith("materials.x") for key in errors)
    assert count_rows(app, "services", code="noise") == 0
    duplicate = client.post("/console/v1/services", headers=admin, json={**NEW, "code": "repair"})
    assert duplicate.status_code == 409


def test_only_administrators_change_the_catalog(client, login_as):
    handler = login_as("urban-handler")
    assert client.post("/console/v1/services", headers=handler, json=NEW).status_code == 403
    assert client.get("/console/v1/services", headers=handler).status_code == 200
