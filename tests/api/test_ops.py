"""Operations endpoints: liveness, readiness, Prometheus metrics, and the request id on every response."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from service import create_app
from service.core.db import db
from service.core.ratelimit import limiter
from tests.conftest import bearer, count_rows

PROBLEM = "application/problem+json"


@pytest.fixture
def unreachable_db_app(settings: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    missing = tmp_path / "no-such-directory" / "nested" / "civicdesk.sqlite3"
    app = create_app(settings | {"DATABASE_URL": f"sqlite:///{missing}"}, "testing")
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    assert not missing.parent.exists()


def _requests_by_endpoint(client: FlaskClient, endpoint: str, status: str) -> float:
    """Requests counted for ``endpoint`` (the duration histogram's count is the per-endpoint tally)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    total = 0.0
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            if (sample.name == "civicdesk_http_request_duration_seconds_count"
                    and sample.labels.get("endpoint") == endpoint and sample.labels.get("status") == status):
                total += sample.value
    return total


def test_healthz_and_readyz(client: FlaskClient) -> None:
    live = client.get("/healthz")
    ready = client.get("/readyz")

    assert live.status_code == 200
    assert live.get_json()["status"] == "ok"
    assert ready.status_code == 200
    assert ready.get_json()["database"] == "ok"


def test_readyz_is_503_problem_when_the_database_is_unreachable(unreachable_db_app: Flask) -> None:
    client = unreachable_db_app.test_client()

    ready = client.get("/readyz")

    assert ready.status_code == 503
    assert ready.mimetype == PROBLEM
    body = ready.get_json()
    assert body["status"] == 503
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in ready.get_data(as_text=True)
    # Liveness does not depend on the database: the process itself is fine.
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_by_endpoint(client: FlaskClient) -> None:
    before = _requests_by_endpoint(client, "console_auth.me", "401")

    for _ in range(3):
        assert client.get("/console/v1/auth/me").status_code == 401

    assert _requests_by_endpoint(client, "console_auth.me", "401") == before + 3


def test_metrics_are_prometheus_text(client: FlaskClient) -> None:
    for path in ("/console/v1/auth/me", "/healthz", "/readyz", "/metrics"):
        client.get(path)

    response = client.get("/metrics")

    families = {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert families["civicdesk_http_request"].type == "counter"
    histogram = families["civicdesk_http_request_duration_seconds"]
    assert histogram.type == "histogram"
    assert {tuple(sorted(s.labels)) for s in histogram.samples if s.name.endswith("_count")} == {
        ("endpoint", "method", "status")}
    # The probes and the document itself are not counted.
    endpoints = {s.labels["endpoint"] for s in histogram.samples if s.name.endswith("_count")}
    assert "console_auth.me" in endpoints
    assert not endpoints & {"health.healthz", "health.readyz", "prometheus_metrics"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/api/openapi.json", "/mp/v1/me",
                                  "/no/such/page"])
def test_every_response_carries_a_request_id(client: FlaskClient, path: str) -> None:
    first, second = client.get(path), client.get(path)

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_valid_incoming_request_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/mp/v1/me", headers={"X-Request-ID": "lb-7f3a2c.req_01"})

    assert response.headers["X-Request-ID"] == "lb-7f3a2c.req_01"
    assert response.get_json()["request_id"] == "lb-7f3a2c.req_01"


@pytest.mark.parametrize("incoming", ["short", "has space in it", "x" * 65, "<script>alert(1)</script>"])
def test_an_unsafe_incoming_request_id_is_replaced(client: FlaskClient, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response.headers["X-Request-ID"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_the_request_id_is_kept_in_the_audit_records_of_the_request(
    app: Flask, client: FlaskClient, staff_token: Callable[..., str], departments: dict[str, str]
) -> None:
    token = staff_token("ops-admin", "district", ("admin",))

    response = client.patch(f"/console/v1/departments/{departments['urban']}",
                            json={"name": "城管局", "expected_version": 1},
                            headers={**bearer(token), "X-Request-ID": "trace-0001-abcd"})

    assert response.status_code == 200
    assert count_rows(app, "audit_records", action="department.updated", request_id="trace-0001-abcd") == 1
