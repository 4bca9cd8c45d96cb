"""Sign-in of residents (WeChat code) and staff (password, lockout), sign-out, and the two kinds of token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.accounts.models import Resident, Staff
from service.core.db import db, utcnow
from service.core.models import AuditRecord
from tests.conftest import DEMO_PASSWORD, bearer, count_rows, problem

PROBLEM = "application/problem+json"


def _keys(node: Any) -> set[str]:
    """Every key anywhere in a JSON document."""
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in _keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in _keys(value)}
    return set()


def _staff_login(client: FlaskClient, username: str, password: str) -> Any:
    return client.post("/console/v1/auth/login", json={"username": username, "password": password})


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


# --- residents -----------------------------------------------------------------------------------------------


def test_resident_login_returns_our_token_and_never_wechat_secrets(app: Flask, client: FlaskClient) -> None:
    before = utcnow()

    response = client.post("/mp/v1/auth/login", json={"code": "dev-alice"})

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"token", "expires_at", "resident"}
    assert isinstance(body["token"], str)
    assert len(body["token"]) >= 32
    assert isinstance(body["resident"]["id"], str)
    assert body["resident"]["id"]
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.utcoffset() == timedelta(hours=8)  # Asia/Shanghai by default
    ttl = timedelta(seconds=app.config["TOKEN_TTL_SECONDS"])
    assert before + ttl - timedelta(seconds=5) <= expires_at.astimezone(UTC) <= utcnow() + ttl
    assert not {"session_key", "openid", "unionid"} & _keys(body)
    with app.app_context():
        resident = db.session.execute(sa.select(Resident).where(Resident.openid == "o-alice")).scalar_one()
        assert resident.id == body["resident"]["id"]
        assert resident.session_key  # kept on the server ...
    text = response.get_data(as_text=True)
    assert resident.session_key not in text  # ... and never sent
    assert "o-alice" not in text
    assert client.get("/mp/v1/me", headers=bearer(body["token"])).status_code == 200


def test_resident_login_with_bad_code_is_401(app: Flask, client: FlaskClient) -> None:
    body = problem(client.post("/mp/v1/auth/login", json={"code": "not-a-dev-code"}), 401)

    assert "token" not in body
    assert count_rows(app, "residents") == 0
    assert count_rows(app, "access_tokens") == 0


def test_second_login_is_the_same_resident_with_a_new_token(app: Flask, client: FlaskClient) -> None:
    first = client.post("/mp/v1/auth/login", json={"code": "dev-bob"}).get_json()
    second = client.post("/mp/v1/auth/login", json={"code": "dev-bob"}).get_json()
    other = client.post("/mp/v1/auth/login", json={"code": "dev-carol"}).get_json()

    assert second["resident"]["id"] == first["resident"]["id"]
    assert other["resident"]["id"] != first["resident"]["id"]
    assert second["token"] != first["token"]
    assert count_rows(app, "residents") == 2
    assert count_rows(app, "audit_records", action="resident.created") == 2
    for token in (first["token"], second["token"]):  # a new login does not end the other sessions
        assert client.get("/mp/v1/me", headers=bearer(token)).get_json()["id"] == first["resident"]["id"]


def test_token_kinds_never_cross_surfaces(client: FlaskClient, resident_token: Callable[[str], str],
                                          staff_token: Callable[..., str]) -> None:
    resident = resident_token("dora")
    staff = staff_token("cross-admin", "district", ("admin",))

    for path in ("/console/v1/auth/me", "/console/v1/departments", "/console/v1/audit"):
        problem(client.get(path, headers=bearer(resident)), 401)
    problem(client.get("/mp/v1/me", headers=bearer(staff)), 401)
    problem(client.patch("/mp/v1/me", json={"name": "张三"}, headers=bearer(staff)), 401)
    # Each still works where it belongs.
    assert client.get("/mp/v1/me", headers=bearer(resident)).status_code == 200
    assert client.get("/console/v1/audit", headers=bearer(staff)).status_code == 200


def test_resident_logout_revokes_the_token(app: Flask, client: FlaskClient,
                                           resident_token: Callable[[str], str]) -> None:
    token, other = resident_token("erin"), resident_token("erin")

    assert client.post("/mp/v1/auth/logout", headers=bearer(token)).status_code == 204

    problem(client.get("/mp/v1/me", headers=bearer(token)), 401)
    problem(client.post("/mp/v1/auth/logout", headers=bearer(token)), 401)
    assert client.get("/mp/v1/me", headers=bearer(other)).status_code == 200  # only that token ended
    assert count_rows(app, "audit_records", action="resident.logout") == 1


# --- staff ---------------------------------------------------------------------------------------------------


def test_staff_login_returns_token_and_profile(client: FlaskClient, make_staff: Callable[..., dict[str, Any]]
                                               ) -> None:
    staff = make_staff("fay", "housing", ("handler", "supervisor"))

    response = _staff_login(client, "  FAY ", DEMO_PASSWORD)  # usernames are case- and space-insensitive

    assert response.status_code == 200
    body = response.get_json()
    assert body["staff"]["id"] == staff["id"]
    assert body["staff"]["username"] == "fay"
    assert body["staff"]["department_id"] == staff["department_id"]
    assert sorted(body["staff"]["roles"]) == ["handler", "supervisor"]
    assert "password" not in _keys(body)
    assert "password_hash" not in _keys(body)
    assert datetime.fromisoformat(body["expires_at"]).tzinfo is not None
    me = client.get("/console/v1/auth/me", headers=bearer(body["token"])).get_json()
    assert me["id"] == staff["id"]


def test_staff_wrong_password_and_unknown_user_look_the_same(
    app: Flask, client: FlaskClient, make_staff: Callable[..., dict[str, Any]]
) -> None:
    make_staff("gus")

    wrong = problem(_staff_login(client, "gus", "not-the-password"), 401)
    unknown = problem(_staff_login(client, "nobody-here", "not-the-password"), 401)

    assert _shape(wrong) == _shape(unknown)
    assert "token" not in wrong
    assert count_rows(app, "access_tokens") == 0


def test_failed_login_count_survives_the_401(app: Flask, client: FlaskClient,
                                              make_staff: Callable[..., dict[str, Any]]) -> None:
    staff = make_staff("hal")

    problem(_staff_login(client, "hal", "wrong-password-1"), 401)
    problem(_staff_login(client, "hal", "wrong-password-2"), 401)

    with app.app_context():
        row = db.session.get(Staff, staff["id"])
        assert row is not None
        assert row.failed_logins == 2
        failures = db.session.execute(
            sa.select(AuditRecord).where(AuditRecord.action == "staff.login_failed",
                                         AuditRecord.object_id == staff["id"]).order_by(AuditRecord.id)
        ).scalars().all()
        assert [record.data["failures"] for record in failures] == [1, 2]
    # A success resets the count.
    assert _staff_login(client, "hal", DEMO_PASSWORD).status_code == 200
    with app.app_context():
        row = db.session.get(Staff, staff["id"])
        assert row is not None
        assert row.failed_logins == 0


def test_lockout_after_max_failures_refuses_even_the_right_password(
    app: Flask, client: FlaskClient, make_staff: Callable[..., dict[str, Any]]
) -> None:
    staff = make_staff("ivy")
    max_failures = int(app.config["LOGIN_MAX_FAILURES"])

    for attempt in range(max_failures):
        problem(_staff_login(client, "ivy", f"wrong-password-{attempt}"), 401)
    locked = _staff_login(client, "ivy", DEMO_PASSWORD)

    problem(locked, 429)
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= int(app.config["LOGIN_LOCKOUT_SECONDS"]) + 1
    assert count_rows(app, "access_tokens", subject_id=staff["id"]) == 0
    assert count_rows(app, "audit_records", action="staff.login_failed", object_id=staff["id"]) == max_failures - 1
    assert count_rows(app, "audit_records", action="staff.locked", object_id=staff["id"]) == 1
    assert count_rows(app, "audit_records", action="staff.login", object_id=staff["id"]) == 0

    # Once the lock has run out the right password works again.
    with app.app_context():
        db.session.execute(sa.update(Staff).where(Staff.id == staff["id"])
                           .values(locked_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert _staff_login(client, "ivy", DEMO_PASSWORD).status_code == 200


def test_staff_logout_revokes_the_token(app: Flask, client: FlaskClient, staff_token: Callable[..., str]) -> None:
    token = staff_token("jan")

    assert client.post("/console/v1/auth/logout", headers=bearer(token)).status_code == 204

    problem(client.get("/console/v1/auth/me", headers=bearer(token)), 401)
    assert count_rows(app, "audit_records", action="staff.logout") == 1


def test_disabled_staff_token_and_login_are_refused(app: Flask, client: FlaskClient,
                                                    staff_token: Callable[..., str]) -> None:
    token = staff_token("kim")
    assert client.get("/console/v1/auth/me", headers=bearer(token)).status_code == 200

    with app.app_context():
        db.session.execute(sa.update(Staff).where(Staff.username == "kim").values(active=False))
        db.session.commit()

    problem(client.get("/console/v1/auth/me", headers=bearer(token)), 401)
    problem(client.get("/console/v1/departments", headers=bearer(token)), 401)
    problem(_staff_login(client, "kim", DEMO_PASSWORD), 401)
