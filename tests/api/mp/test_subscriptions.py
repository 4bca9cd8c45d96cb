"""Subscribe messages: the templates the mini program may offer, the acceptances it reports, and the rule that
each one-time acceptance allows exactly one message."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import config
from service.core.db import db
from service.notifications import operations, queries
from service.notifications.models import SubscriptionGrant
from tests.conftest import bearer, count_rows, problem

PROBLEM = "application/problem+json"
TEMPLATES = "/mp/v1/subscription-templates"
URL = "/mp/v1/subscriptions"
EVENTS = ["request_accepted", "materials_requested", "request_completed", "request_rejected",
          "consultation_answered", "follow_up_answered"]
ACCEPTED, ANSWERED = "tmpl-request-accepted", "tmpl-consultation-answered"


def _resident(client: FlaskClient, resident_token: Callable[[str], str], name: str) -> dict[str, Any]:
    headers = bearer(resident_token(name))
    return {"headers": headers, "id": client.get("/mp/v1/me", headers=headers).get_json()["id"]}


@pytest.fixture
def alice(client: FlaskClient, resident_token: Callable[[str], str]) -> dict[str, Any]:
    return _resident(client, resident_token, "alice")


@pytest.fixture
def bob(client: FlaskClient, resident_token: Callable[[str], str]) -> dict[str, Any]:
    return _resident(client, resident_token, "bob")


def consume(app: Flask, resident_id: str, template_id: str) -> SubscriptionGrant | None:
    with app.app_context():
        grant = operations.consume_grant(resident_id, template_id)
        db.session.commit()
        return grant


def test_the_templates_on_offer(client: FlaskClient, alice: dict[str, Any]) -> None:
    response = client.get(TEMPLATES, headers=alice["headers"])

    assert response.status_code == 200
    body = response.get_json()
    assert body["next_cursor"] is None
    assert [item["event"] for item in body["items"]] == EVENTS
    first = body["items"][0]
    assert first == {"id": ACCEPTED, "event": "request_accepted", "title": "办件受理通知", "unused": 0}
    assert all(item["id"] and item["title"] for item in body["items"])


def test_accepting_records_one_grant_per_template_per_call(app: Flask, client: FlaskClient,
                                                           alice: dict[str, Any]) -> None:
    response = client.post(URL, json={"accepted": [ACCEPTED, ANSWERED, ACCEPTED]}, headers=alice["headers"])

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["accepted"] == [ACCEPTED, ANSWERED]
    assert body["unused"][ACCEPTED] == 1
    assert body["unused"][ANSWERED] == 1
    assert body["unused"]["tmpl-request-completed"] == 0
    assert set(body["unused"]) == {item["id"] for item in client.get(TEMPLATES, headers=alice["headers"])
                                   .get_json()["items"]}
    assert count_rows(app, "subscription_grants", resident_id=alice["id"]) == 2
    assert count_rows(app, "audit_records", action="subscription.accepted") == 1

    again = client.post(URL, json={"accepted": [ACCEPTED]}, headers=alice["headers"]).get_json()
    assert again["unused"][ACCEPTED] == 2
    offered = {item["id"]: item["unused"] for item in client.get(TEMPLATES, headers=alice["headers"])
               .get_json()["items"]}
    assert offered[ACCEPTED] == 2
    assert offered[ANSWERED] == 1


def test_each_acceptance_allows_one_message(app: Flask, client: FlaskClient, alice: dict[str, Any],
                                            bob: dict[str, Any]) -> None:
    for _ in range(2):
        assert client.post(URL, json={"accepted": [ANSWERED]}, headers=alice["headers"]).status_code == 201
    client.post(URL, json={"accepted": [ACCEPTED]}, headers=bob["headers"])

    first = consume(app, alice["id"], ANSWERED)
    second = consume(app, alice["id"], ANSWERED)
    third = consume(app, alice["id"], ANSWERED)

    assert first is not None
    assert second is not None
    assert third is None
    assert first.id != second.id
    assert first.consumed_at is not None
    assert (first.granted_at, first.id) <= (second.granted_at, second.id)  # the oldest goes first
    assert consume(app, alice["id"], ACCEPTED) is None  # bob's acceptance is not alice's
    assert consume(app, bob["id"], ANSWERED) is None
    with app.app_context():
        assert queries.unused_grants(alice["id"]) == {}
        assert queries.unused_grants(bob["id"]) == {ACCEPTED: 1}
    assert client.get(TEMPLATES, headers=alice["headers"]).get_json()["items"][4]["unused"] == 0


def test_concurrent_senders_never_use_one_grant_twice(app: Flask, client: FlaskClient,
                                                      alice: dict[str, Any]) -> None:
    for _ in range(3):
        client.post(URL, json={"accepted": [ANSWERED]}, headers=alice["headers"])
    results: list[str | None] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def send() -> None:
        with app.app_context():
            start.wait()
            grant = operations.consume_grant(alice["id"], ANSWERED)
            db.session.commit()
            with lock:
                results.append(grant.id if grant else None)
            db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    used = [r for r in results if r is not None]
    assert len(results) == 6
    assert len(used) == len(set(used)) == 3
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(SubscriptionGrant)
                                  .where(SubscriptionGrant.consumed_at.is_(None))).scalar_one() == 0


@pytest.mark.parametrize(("body", "field"), [
    ({}, "accepted"),
    ({"accepted": []}, "accepted"),
    ({"accepted": "tmpl-request-accepted"}, "accepted"),
    ({"accepted": [ACCEPTED, "tmpl-not-ours"]}, "accepted"),
    ({"accepted": [""]}, "accepted.0"),
    ({"accepted": [42]}, "accepted.0"),
    ({"accepted": [ACCEPTED] * 21}, "accepted"),
    ({"accepted": [ACCEPTED], "resident_id": "x"}, "resident_id"),
])
def test_validation_errors_name_the_field(app: Flask, client: FlaskClient, alice: dict[str, Any],
                                          body: dict[str, Any], field: str) -> None:
    response = client.post(URL, json=body, headers=alice["headers"])

    assert field in problem(response, 422)["errors"]
    assert count_rows(app, "subscription_grants") == 0


@pytest.mark.parametrize(("method", "url"), [("GET", TEMPLATES), ("POST", URL)])
def test_anonymous_and_staff_tokens_are_401(app: Flask, client: FlaskClient, staff_token: Callable[..., str],
                                            method: str, url: str) -> None:
    body = {"accepted": [ACCEPTED]} if method == "POST" else None
    for headers in ({}, bearer(staff_token("clerk"))):
        problem(client.open(url, method=method, json=body, headers=headers), 401)
    assert count_rows(app, "subscription_grants") == 0


def test_idempotent_replay(app: Flask, client: FlaskClient, alice: dict[str, Any]) -> None:
    headers = {**alice["headers"], "Idempotency-Key": "accept-1"}

    first = client.post(URL, json={"accepted": [ACCEPTED]}, headers=headers)
    again = client.post(URL, json={"accepted": [ACCEPTED]}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_rows(app, "subscription_grants") == 1
    other = client.post(URL, json={"accepted": [ANSWERED]}, headers=headers)
    assert "Idempotency-Key" in problem(other, 422)["errors"]
    assert count_rows(app, "subscription_grants") == 1


def test_templates_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    custom = {"request_accepted": {"id": "AbC-real-id", "title": "受理通知"}}
    monkeypatch.setenv("CIVICDESK_WECHAT_SUBSCRIBE_TEMPLATES", json.dumps(custom, ensure_ascii=False))

    assert config.load("testing")["WECHAT_SUBSCRIBE_TEMPLATES"] == custom


def test_configured_templates_are_what_is_offered_and_accepted(app: Flask, client: FlaskClient,
                                                              alice: dict[str, Any]) -> None:
    app.config["WECHAT_SUBSCRIBE_TEMPLATES"] = {"request_completed": {"id": "AbC-real-id", "title": "办结通知"}}

    offered = client.get(TEMPLATES, headers=alice["headers"]).get_json()["items"]
    assert offered == [{"id": "AbC-real-id", "event": "request_completed", "title": "办结通知", "unused": 0}]
    problem(client.post(URL, json={"accepted": [ACCEPTED]}, headers=alice["headers"]), 422)
    accepted = client.post(URL, json={"accepted": ["AbC-real-id"]}, headers=alice["headers"])
    assert accepted.get_json() == {"accepted": ["AbC-real-id"], "unused": {"AbC-real-id": 1}}
