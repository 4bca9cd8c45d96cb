"""Optimistic concurrency on departments: stale writes get 409 and change nothing, even under real races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer, count_rows, problem

PROBLEM = "application/problem+json"
THREADS = 8


@pytest.fixture
def admin(staff_token: Callable[..., str]) -> dict[str, str]:
    return bearer(staff_token("root-admin", "district", ("admin",)))


def _state(client: FlaskClient, admin: dict[str, str], url: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(url, headers=admin).get_json()
    return {"name": body["name"], "version": body["version"], "parent_id": body["parent_id"]}


def test_stale_expected_version_is_409_and_nothing_changes(app: Flask, client: FlaskClient,
                                                           admin: dict[str, str],
                                                           departments: dict[str, str]) -> None:
    url = f"/console/v1/departments/{departments['urban']}"
    ok = client.patch(url, json={"name": "城管局", "expected_version": 1}, headers=admin)
    assert ok.status_code == 200
    assert ok.get_json()["version"] == 2
    assert ok.headers["ETag"] == '"2"'
    before = _state(client, admin, url)
    audits = count_rows(app, "audit_records", action="department.updated")

    body = problem(client.patch(url, json={"name": "过时的修改", "parent_id": None, "expected_version": 1},
                                headers=admin), 409)

    assert body["type"].endswith("stale-version")
    assert _state(client, admin, url) == before
    assert count_rows(app, "audit_records", action="department.updated") == audits


def test_stale_if_match_is_409_and_current_one_succeeds(app: Flask, client: FlaskClient, admin: dict[str, str],
                                                        departments: dict[str, str]) -> None:
    url = f"/console/v1/departments/{departments['housing']}"
    etag = client.get(url, headers=admin).headers["ETag"]
    assert client.patch(url, json={"name": "住建局"}, headers={**admin, "If-Match": etag}).status_code == 200

    problem(client.patch(url, json={"name": "过时"}, headers={**admin, "If-Match": etag}), 409)

    current = client.get(url, headers=admin)
    assert current.get_json()["name"] == "住建局"
    assert client.patch(url, json={"name": "区住建局"}, headers={**admin, "If-Match": current.headers["ETag"]}
                        ).status_code == 200


def test_missing_expected_version_is_422(app: Flask, client: FlaskClient, admin: dict[str, str],
                                         departments: dict[str, str]) -> None:
    url = f"/console/v1/departments/{departments['urban']}"
    before = _state(client, admin, url)

    body = problem(client.patch(url, json={"name": "没有版本"}, headers=admin), 422)

    assert "expected_version" in body["errors"]
    assert _state(client, admin, url) == before
    assert count_rows(app, "audit_records", action="department.updated") == 0


def test_racing_writers_with_the_same_version_exactly_one_wins(app: Flask, admin: dict[str, str],
                                                               departments: dict[str, str]) -> None:
    url = f"/console/v1/departments/{departments['urban']}"
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(index: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=10)
            response = client.patch(url, json={"name": f"writer {index}", "expected_version": 1}, headers=admin)
            with lock:
                results.append((index, response.status_code, response.mimetype))
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert len(results) == THREADS
    statuses = sorted(status for _, status, _ in results)
    assert statuses == [200] + [409] * (THREADS - 1)
    assert all(mimetype == PROBLEM for _, status, mimetype in results if status == 409)
    [winner] = [index for index, status, _ in results if status == 200]
    final = _state(app.test_client(), admin, url)
    assert final["name"] == f"writer {winner}"
    assert final["version"] == 2
    assert count_rows(app, "audit_records", action="department.updated") == 1
