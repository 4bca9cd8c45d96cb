"""Administrators manage staff accounts: roles, department, disabling (tokens revoked) and password resets."""

from __future__ import annotations

from tests.conftest import DEMO_PASSWORD, bearer, count_rows


def login(client, username, password=DEMO_PASSWORD):
    return client.post("/console/v1/auth/login", json={"username": username, "password": password})


def staff_id(client, admin, username):
    items = client.get("/console/v1/staff?limit=100", headers=admin).get_json()["items"]
    return next(s["id"] for s in items if s["username"] == username)


def test_change_roles_and_department(client, login_as, app):
    admin = login_as("admin")
    target = staff_id(client, admin, "urban-handler")
    detail = client.get(f"/console/v1/staff/{target}", headers=admin)
    version = detail.get_json()["version"]
    assert detail.headers["ETag"] == f'"{version}"'
    housing = next(d["id"] for d in client.get("/console/v1/departments?limit=100", headers=admin).get_json()["items"]
                   if d["code"] == "housing")
    changed = client.patch(f"/console/v1/staff/{target}", headers=admin,
                           json={"roles": ["handler", "supervisor"], "department_id": housing,
                                 "expected_version": version})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["roles"] == ["handler", "supervisor"]
    assert changed.get_json()["department_id"] == housing
    stale = client.patch(f"/console/v1/staff/{target}", headers=admin,
                         json={"display_name": "x", "expected_version": version})
    assert stale.status_code == 409
    bad = client.patch(f"/console/v1/staff/{target}", headers=admin,
                       json={"roles": ["wizard"], "expected_version": changed.get_json()["version"]})
    assert bad.status_code == 422
    assert count_rows(app, "audit_records", action="staff.updated") == 1


def test_disabling_revokes_tokens(client, login_as):
    admin = login_as("admin")
    handler = login_as("urban-handler")
    target = staff_id(client, admin, "urban-handler")
    version = client.get(f"/console/v1/staff/{target}", headers=admin).get_json()["version"]
    assert client.patch(f"/console/v1/staff/{target}", headers=admin,
                        json={"active": False, "expected_version": version}).status_code == 200
    assert client.get("/console/v1/auth/me", headers=handler).status_code == 401
    assert login(client, "urban-handler").status_code == 401


def test_password_reset_revokes_tokens_and_lifts_a_lockout(client, login_as, app):
    admin = login_as("admin")
    handler = login_as("urban-handler")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, "urban-handler", "wrong-password")
    assert login(client, "urban-handler").status_code == 429
    target = staff_id(client, admin, "urban-handler")
    assert client.post(f"/console/v1/staff/{target}/password", headers=admin,
                       json={"password": "short"}).status_code == 422
    reset = client.post(f"/console/v1/staff/{target}/password", headers=admin,
                        json={"password": "a-brand-new-password"})
    assert reset.status_code == 204
    assert client.get("/console/v1/auth/me", headers=handler).status_code == 401
    assert login(client, "urban-handler").status_code == 401
    assert login(client, "urban-handler", "a-brand-new-password").status_code == 200


def test_an_administrator_cannot_lock_themselves_out(client, login_as):
    admin = login_as("admin")
    me = client.get("/console/v1/auth/me", headers=admin).get_json()
    response = client.patch(f"/console/v1/staff/{me['id']}", headers=admin,
                            json={"active": False, "expected_version": me["version"]})
    assert response.status_code == 409
    assert client.get("/console/v1/auth/me", headers=admin).status_code == 200


def test_only_administrators(client, login_as, resident_token):
    admin = login_as("admin")
    target = staff_id(client, admin, "urban-handler")
    supervisor = login_as("urban-supervisor")
    assert client.get(f"/console/v1/staff/{target}", headers=supervisor).status_code == 403
    assert client.post(f"/console/v1/staff/{target}/password", headers=supervisor,
                       json={"password": "a-brand-new-password"}).status_code == 403
    assert client.get(f"/console/v1/staff/{target}", headers=bearer(resident_token("mallory"))).status_code == 401
