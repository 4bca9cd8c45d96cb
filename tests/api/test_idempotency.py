"""``Idempotency-Key`` on POST /console/v1/departments: replay, mismatch, scope, release, in-flight, expiry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.core.db import db, utcnow
from service.core.idempotency import request_fingerprint
from service.core.models import IdempotencyKey
from tests.conftest import DEMO_PASSWORD, bearer, count_rows, problem

PROBLEM = "application/problem+json"
URL = "/console/v1/departments"


@pytest.fixture
def admins(client: FlaskClient, staff_token: Callable[..., str]) -> dict[str, dict[str, Any]]:
    result = {}
    for name in ("ada", "ben"):
        token = staff_token(name, "district", ("admin",))
        staff_id = client.get("/console/v1/auth/me", headers=bearer(token)).get_json()["id"]
        result[name] = {"headers": bearer(token), "scope": f"staff:{staff_id}"}
    return result


def _post(client: FlaskClient, admin: dict[str, Any], key: str, body: dict[str, Any]) -> Any:
    return client.post(URL, json=body, headers={**admin["headers"], "Idempotency-Key": key})


def _fingerprint(app: Flask, body: dict[str, Any]) -> str:
    with app.test_request_context(URL, method="POST", json=body):
        return request_fingerprint()


def _key_rows(app: Flask, scope: str, key: str) -> list[IdempotencyKey]:
    with app.app_context():
        return list(db.session.execute(
            sa.select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        ).scalars())


def _insert_key(app: Flask, **values: Any) -> None:
    with app.app_context():
        db.session.add(IdempotencyKey(**values))
        db.session.commit()


def test_same_key_same_body_replays_the_first_response(app: Flask, client: FlaskClient,
                                                       admins: dict[str, dict[str, Any]]) -> None:
    body = {"code": "parks", "name": "区园林绿化局"}
    before = count_rows(app, "departments")

    first = _post(client, admins["ada"], "key-1", body)
    again = _post(client, admins["ada"], "key-1", dict(reversed(body.items())))  # key order is irrelevant

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.mimetype == "application/json"
    assert count_rows(app, "departments") == before + 1
    assert count_rows(app, "audit_records", action="department.created", object_id=first.get_json()["id"]) == 1
    [row] = _key_rows(app, admins["ada"]["scope"], "key-1")
    assert row.state == "done"
    assert row.response_status == 201
    ttl = timedelta(seconds=app.config["IDEMPOTENCY_TTL_SECONDS"])
    assert utcnow() + ttl - timedelta(minutes=1) < row.expires_at <= utcnow() + ttl


def test_without_a_key_each_post_is_its_own_request(app: Flask, client: FlaskClient,
                                                    admins: dict[str, dict[str, Any]]) -> None:
    assert client.post(URL, json={"code": "parks", "name": "公园"}, headers=admins["ada"]["headers"]
                       ).status_code == 201
    problem(client.post(URL, json={"code": "parks", "name": "公园"}, headers=admins["ada"]["headers"]), 409)
    assert count_rows(app, "idempotency_keys") == 0


def test_same_key_different_body_is_422(app: Flask, client: FlaskClient,
                                        admins: dict[str, dict[str, Any]]) -> None:
    assert _post(client, admins["ada"], "key-2", {"code": "parks", "name": "公园"}).status_code == 201

    body = problem(_post(client, admins["ada"], "key-2", {"code": "zoo", "name": "动物园"}), 422)

    assert "Idempotency-Key" in body["errors"]
    assert count_rows(app, "departments", code="zoo") == 0
    # The original is still replayable.
    assert _post(client, admins["ada"], "key-2", {"code": "parks", "name": "公园"}
                 ).headers["Idempotent-Replayed"] == "true"


def test_keys_are_scoped_to_the_caller(app: Flask, client: FlaskClient,
                                       admins: dict[str, dict[str, Any]]) -> None:
    first = _post(client, admins["ada"], "shared-key", {"code": "parks", "name": "公园"})
    other = _post(client, admins["ben"], "shared-key", {"code": "zoo", "name": "动物园"})

    assert first.status_code == other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers
    assert other.get_json()["id"] != first.get_json()["id"]
    assert count_rows(app, "departments", code="zoo") == 1
    # Ben's key with Ada's body is Ben's own new request: a duplicate code, not Ada's replay.
    problem(_post(client, admins["ben"], "another-key", {"code": "parks", "name": "公园"}), 409)


def test_a_failed_first_attempt_releases_the_key(app: Flask, client: FlaskClient,
                                                 admins: dict[str, dict[str, Any]]) -> None:
    ada = admins["ada"]
    problem(_post(client, ada, "retry-key", {"code": "Bad Code!", "name": "公园"}), 422)
    assert _key_rows(app, ada["scope"], "retry-key") == []

    # The corrected request under the same key is a new request, not a "different body" 422.
    corrected = _post(client, ada, "retry-key", {"code": "parks", "name": "公园"})
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected.headers
    assert count_rows(app, "departments", code="parks") == 1


def test_a_conflicting_first_attempt_is_not_replayed(app: Flask, client: FlaskClient,
                                                     admins: dict[str, dict[str, Any]]) -> None:
    ada = admins["ada"]
    body = {"code": "parks", "name": "公园"}
    assert client.post(URL, json=body, headers=ada["headers"]).status_code == 201

    problem(_post(client, ada, "dup-key", body), 409)
    assert _key_rows(app, ada["scope"], "dup-key") == []

    # Once the obstacle is gone the very same request goes through: the 409 was not stored for replay.
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM departments WHERE code = 'parks'"))
        db.session.commit()
    retried = _post(client, ada, "dup-key", body)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


def test_retry_while_the_first_is_in_flight_is_409(app: Flask, client: FlaskClient,
                                                   admins: dict[str, dict[str, Any]]) -> None:
    ada, body = admins["ada"], {"code": "parks", "name": "公园"}
    now = utcnow()
    _insert_key(app, scope=ada["scope"], key="busy-key", fingerprint=_fingerprint(app, body), state="processing",
                locked_at=now, expires_at=now + timedelta(hours=24))

    response = _post(client, ada, "busy-key", body)

    problem(response, 409)
    assert int(response.headers["Retry-After"]) >= 1
    assert count_rows(app, "departments", code="parks") == 0
    [row] = _key_rows(app, ada["scope"], "busy-key")  # the first attempt's claim is left alone
    assert row.state == "processing"


def test_a_claim_abandoned_past_the_lock_window_is_taken_over(app: Flask, client: FlaskClient,
                                                              admins: dict[str, dict[str, Any]]) -> None:
    ada, body = admins["ada"], {"code": "parks", "name": "公园"}
    now = utcnow()
    stale = now - timedelta(seconds=int(app.config["IDEMPOTENCY_LOCK_SECONDS"]) + 5)
    _insert_key(app, scope=ada["scope"], key="dead-key", fingerprint=_fingerprint(app, body), state="processing",
                locked_at=stale, expires_at=now + timedelta(hours=24))

    response = _post(client, ada, "dead-key", body)

    assert response.status_code == 201
    assert count_rows(app, "departments", code="parks") == 1
    [row] = _key_rows(app, ada["scope"], "dead-key")
    assert row.state == "done"
    assert row.response_status == 201


def test_an_expired_key_is_treated_as_new(app: Flask, client: FlaskClient,
                                          admins: dict[str, dict[str, Any]]) -> None:
    ada = admins["ada"]
    past = utcnow() - timedelta(hours=25)
    _insert_key(app, scope=ada["scope"], key="old-key", fingerprint="0" * 64, state="done",
                response_status=201, response_body='{"id": "stale"}',
                response_headers={"Content-Type": "application/json"},
                created_at=past, locked_at=past, expires_at=past + timedelta(hours=24))

    response = _post(client, ada, "old-key", {"code": "parks", "name": "公园"})

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert response.get_json()["id"] != "stale"
    assert response.get_json()["code"] == "parks"
    [row] = _key_rows(app, ada["scope"], "old-key")
    assert row.expires_at > utcnow()
    assert row.response_body is not None
    assert response.get_json()["id"] in row.response_body


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "tab\there"])
def test_an_unusable_key_is_400(app: Flask, client: FlaskClient, admins: dict[str, dict[str, Any]],
                                key: str) -> None:
    problem(_post(client, admins["ada"], key, {"code": "parks", "name": "公园"}), 400)
    assert count_rows(app, "departments", code="parks") == 0


def test_the_key_belongs_to_the_caller_not_to_the_token(app: Flask, client: FlaskClient,
                                                        admins: dict[str, dict[str, Any]]) -> None:
    body = {"code": "parks", "name": "公园"}
    first = _post(client, admins["ada"], "relogin-key", body)
    login = client.post("/console/v1/auth/login", json={"username": "ada", "password": DEMO_PASSWORD})
    again = _post(client, {"headers": bearer(login.get_json()["token"])}, "relogin-key", body)

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


def test_concurrent_retries_create_one_department(app: Flask, admins: dict[str, dict[str, Any]]) -> None:
    threads_count = 6
    body = {"code": "parks", "name": "公园"}
    barrier = threading.Barrier(threads_count)
    results: list[tuple[int, bool, str | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            response = _post(app.test_client(), admins["ada"], "racing-key", body)
            department = response.get_json().get("id") if response.status_code == 201 else None
            with lock:
                results.append((response.status_code, "Idempotent-Replayed" in response.headers, department))
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert len(results) == threads_count
    assert {status for status, _, _ in results} <= {201, 409}
    originals = [result for result in results if result[0] == 201 and not result[1]]
    assert len(originals) == 1
    assert {department for status, _, department in results if status == 201} == {originals[0][2]}
    assert count_rows(app, "departments", code="parks") == 1
    assert count_rows(app, "audit_records", action="department.created", object_id=originals[0][2]) == 1
