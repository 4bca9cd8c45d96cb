"""Every error, whatever raised it, is an RFC 9457 problem document: never HTML, never a stack trace."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.core.db import db, utcnow
from service.core.models import AccessToken
from service.core.ratelimit import limiter
from tests.conftest import _empty_tables, bearer, count_rows

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is a problem document of ``status`` with the RFC 9457 members, and nothing like HTML."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    text = response.get_data(as_text=True)
    assert "<html" not in text.lower()
    assert "Traceback" not in text
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.fixture
def make_app(settings: dict[str, Any], migrated: None) -> Iterator[Callable[..., Flask]]:
    """Apps with settings of their own, on the test database, cleaned up like the ``app`` fixture."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app(settings | overrides, "testing")
        limiter.reset()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()


@pytest.fixture
def admin(staff_token: Callable[..., str]) -> dict[str, str]:
    return bearer(staff_token("root-admin", "district", ("admin",)))


# --- 400 -----------------------------------------------------------------------------------------------------


def test_malformed_json_body_is_400(client: FlaskClient, admin: dict[str, str], app: Flask) -> None:
    before = count_rows(app, "departments")

    response = client.post("/console/v1/departments", data='{"code": "parks", "name": ',
                           headers={**admin, "Content-Type": "application/json"})

    assert_problem(response, 400)
    assert count_rows(app, "departments") == before


# --- 401 -----------------------------------------------------------------------------------------------------


def _expect_401(response: Any) -> dict[str, Any]:
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    return body


def test_no_token_is_401(client: FlaskClient) -> None:
    _expect_401(client.get("/mp/v1/me"))
    _expect_401(client.get("/console/v1/auth/me"))


@pytest.mark.parametrize("header", ["Bearer not-a-token-we-issued", "Bearer ", "Basic dXNlcjpwYXNz", "garbage"])
def test_garbage_token_is_401(client: FlaskClient, header: str) -> None:
    _expect_401(client.get("/mp/v1/me", headers={"Authorization": header}))
    _expect_401(client.get("/console/v1/auth/me", headers={"Authorization": header}))


def test_expired_token_is_401(app: Flask, client: FlaskClient, resident_token: Callable[[str], str]) -> None:
    token = resident_token("expiring")
    assert client.get("/mp/v1/me", headers=bearer(token)).status_code == 200
    with app.app_context():
        db.session.execute(sa.update(AccessToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    _expect_401(client.get("/mp/v1/me", headers=bearer(token)))


def test_revoked_token_is_401(client: FlaskClient, resident_token: Callable[[str], str],
                              staff_token: Callable[..., str]) -> None:
    resident = resident_token("leaving")
    staff = staff_token("leaving-handler")

    assert client.post("/mp/v1/auth/logout", headers=bearer(resident)).status_code == 204
    assert client.post("/console/v1/auth/logout", headers=bearer(staff)).status_code == 204

    _expect_401(client.get("/mp/v1/me", headers=bearer(resident)))
    _expect_401(client.get("/console/v1/auth/me", headers=bearer(staff)))


# --- 403, 404, 405 -------------------------------------------------------------------------------------------


def test_handler_on_admin_endpoint_is_403(app: Flask, client: FlaskClient, staff_token: Callable[..., str]) -> None:
    handler = bearer(staff_token("plain-handler"))
    before = count_rows(app, "departments")

    assert_problem(client.get("/console/v1/audit", headers=handler), 403)
    assert_problem(client.post("/console/v1/departments", json={"code": "parks", "name": "公园"},
                               headers=handler), 403)
    assert count_rows(app, "departments") == before


def test_unknown_url_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/console/v1/no-such-thing"), 404)
    assert_problem(client.get("/definitely/not/here.html"), 404)


def test_unknown_department_is_404(client: FlaskClient, admin: dict[str, str]) -> None:
    assert_problem(client.get("/console/v1/departments/01zzzzzzzzzzzzzzzzzzzzzzzz", headers=admin), 404)
    assert_problem(client.patch("/console/v1/departments/01zzzzzzzzzzzzzzzzzzzzzzzz",
                                json={"name": "x", "expected_version": 1}, headers=admin), 404)


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/console/v1/departments")

    assert_problem(response, 405)
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    assert "DELETE" not in allowed


# --- 409 -----------------------------------------------------------------------------------------------------


def test_stale_version_is_409(client: FlaskClient, admin: dict[str, str], departments: dict[str, str]) -> None:
    url = f"/console/v1/departments/{departments['urban']}"
    assert client.patch(url, json={"name": "新名称", "expected_version": 1}, headers=admin).status_code == 200

    body = assert_problem(client.patch(url, json={"name": "再改", "expected_version": 1}, headers=admin), 409)

    assert body["type"].endswith("stale-version")
    assert client.get(url, headers=admin).get_json()["name"] == "新名称"


# --- 413 -----------------------------------------------------------------------------------------------------


def test_body_over_max_content_length_is_413(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_CONTENT_LENGTH=512)
    client = app.test_client()
    assert client.post("/mp/v1/auth/login", json={"code": "dev-small"}).status_code == 200

    response = client.post("/mp/v1/auth/login", json={"code": "dev-big", "padding": "x" * 2048})

    assert_problem(response, 413)
    assert count_rows(app, "residents", openid="o-big") == 0


# --- 415 -----------------------------------------------------------------------------------------------------


def test_text_plain_body_is_415(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    before = count_rows(app, "departments")

    response = client.post("/console/v1/departments", data='{"code": "parks", "name": "公园"}',
                           headers={**admin, "Content-Type": "text/plain"})

    assert_problem(response, 415)
    assert count_rows(app, "departments") == before


# --- 422 -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "parks", "name": "公园", "colour": "green"}, "colour"),  # unknown field
        ({"code": 42, "name": "公园"}, "code"),  # wrong type
        ({"name": "公园"}, "code"),  # missing field
        ({"code": "Parks Dept", "name": "公园"}, "code"),  # fails the field's own rule
    ],
)
def test_invalid_body_is_422_with_field_errors(app: Flask, client: FlaskClient, admin: dict[str, str],
                                                body: dict[str, Any], field: str) -> None:
    before = count_rows(app, "departments")

    problem = assert_problem(client.post("/console/v1/departments", json=body, headers=admin), 422)

    assert list(problem["errors"]) == [field]
    messages = problem["errors"][field]
    assert messages
    assert all(isinstance(message, str) and message for message in messages)
    assert count_rows(app, "departments") == before


def test_several_invalid_fields_are_all_reported(client: FlaskClient, admin: dict[str, str]) -> None:
    problem = assert_problem(client.post("/console/v1/departments", json={"code": 1, "extra": True},
                                         headers=admin), 422)

    assert set(problem["errors"]) == {"code", "name", "extra"}


# --- 429 -----------------------------------------------------------------------------------------------------


def test_login_rate_limit_is_429_with_retry_after(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [client.post("/mp/v1/auth/login", json={"code": f"dev-rl{i}"}).status_code for i in range(2)]
    assert statuses == [200, 200]

    response = client.post("/mp/v1/auth/login", json={"code": "dev-rl3"})

    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    assert count_rows(app, "residents", openid="o-rl3") == 0


# --- 503 -----------------------------------------------------------------------------------------------------


def test_unreachable_wechat_is_503_on_resident_login(make_app: Callable[..., Flask]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(WECHAT_BASE_URL=f"http://127.0.0.1:{port}/", WECHAT_TIMEOUT=2)

    response = app.test_client().post("/mp/v1/auth/login", json={"code": "dev-offline"})

    assert_problem(response, 503)
    assert count_rows(app, "residents") == 0


# --- 500 -----------------------------------------------------------------------------------------------------

SECRET_DETAIL = "connection string postgres://admin:hunter2@db"


@pytest.fixture
def boom_app(app: Flask) -> Flask:
    """The test app with one extra route that fails in an unexpected way (added before its first request)."""

    def boom() -> str:
        raise RuntimeError(SECRET_DETAIL)

    app.add_url_rule("/__test__/boom", "test_boom", boom)
    return app


def test_unexpected_exception_is_500_problem_logged_with_request_id(
    boom_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # The civicdesk logger does not propagate; pytest attaches caplog to such loggers too.
    response = boom_app.test_client().get("/__test__/boom")

    body = assert_problem(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    request_id = response.headers["X-Request-ID"]
    assert request_id
    assert body["request_id"] == request_id
    logged = [r for r in caplog.records if r.name == "civicdesk.errors" and r.levelno >= logging.ERROR]
    assert len(logged) == 1
    assert getattr(logged[0], "request_id", None) == request_id
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], RuntimeError)


def test_unexpected_exception_rolls_back_its_changes(app: Flask, departments: dict[str, str]) -> None:
    from service.accounts.models import Department

    def half_done() -> str:
        department = db.session.get(Department, departments["urban"])
        assert department is not None
        department.name = "changed before the crash"
        db.session.flush()
        raise RuntimeError("crash after flushing")

    app.add_url_rule("/__test__/half-done", "test_half_done", half_done, methods=["POST"])
    response = app.test_client().post("/__test__/half-done")

    assert_problem(response, 500)
    assert count_rows(app, "departments", name="changed before the crash") == 0
