"""Who may call what, for every endpoint of the app, from one table that must keep up with the url map."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient

from service.accounts import operations as account_operations
from service.accounts.models import Resident
from service.attachments.models import Attachment
from service.attachments.storage import storage_for
from service.catalog import operations as catalog_operations
from service.consultations import operations as consultation_operations
from service.core.auth import SYSTEM, Actor
from service.core.db import db
from service.notices import operations as notice_operations
from service.notifications.models import OutboxMessage
from service.processes import operations as process_operations
from service.processes.builtin import builtin_definition_data
from service.requests import operations as request_operations
from tests.conftest import DEMO_PASSWORD, bearer, count_rows

PROBLEM = "application/problem+json"
NOT_ACCESS_CONTROLLED = ("/healthz", "/readyz", "/metrics")
NON_ADMIN_ROLES = ("handler", "supervisor", "publisher", "reviewer")

# (method, rule) -> who may call it:
#   public    no token needed
#   resident  any resident token;  own: the resident's own data only
#   owner     the resident who owns the object; another resident gets 404
#   staff     any staff token;     admin: staff with the admin role
#   department  staff of the department the request is with now (or was handled by)
#   supervisor  staff with the supervisor role
#   stats       supervisors (their department's subtree) and administrators
#   notices     publishers and reviewers;  publisher: publishers only
ACCESS: dict[tuple[str, str], str] = {
    ("POST", "/mp/v1/auth/login"): "public",
    ("POST", "/mp/v1/auth/logout"): "resident",
    ("GET", "/mp/v1/me"): "own",
    ("PATCH", "/mp/v1/me"): "own",
    ("GET", "/mp/v1/services"): "public",
    ("GET", "/mp/v1/services/<service_id>"): "public",
    ("GET", "/mp/v1/service-categories"): "public",
    ("POST", "/mp/v1/attachments"): "resident",
    ("POST", "/mp/v1/consultations"): "resident",
    ("GET", "/mp/v1/consultations"): "resident",
    ("GET", "/mp/v1/consultations/<consultation_id>"): "owner",
    ("GET", "/mp/v1/faq"): "public",
    ("GET", "/mp/v1/subscription-templates"): "resident",
    ("POST", "/mp/v1/subscriptions"): "resident",
    ("POST", "/console/v1/auth/login"): "public",
    ("POST", "/console/v1/auth/logout"): "staff",
    ("GET", "/console/v1/auth/me"): "staff",
    ("GET", "/console/v1/departments"): "staff",
    ("POST", "/console/v1/departments"): "admin",
    ("GET", "/console/v1/departments/<department_id>"): "staff",
    ("PATCH", "/console/v1/departments/<department_id>"): "admin",
    ("GET", "/console/v1/staff"): "admin",
    ("POST", "/console/v1/staff"): "admin",
    ("GET", "/console/v1/audit"): "admin",
    ("GET", "/console/v1/calendar"): "staff",
    ("GET", "/console/v1/calendar/due"): "staff",
    ("PUT", "/console/v1/calendar/<day>"): "admin",
    ("DELETE", "/console/v1/calendar/<day>"): "admin",
    ("GET", "/console/v1/processes"): "staff",
    ("POST", "/console/v1/processes"): "admin",
    ("GET", "/console/v1/processes/schema"): "staff",
    ("GET", "/console/v1/processes/<code>/versions"): "staff",
    ("GET", "/console/v1/processes/<code>/versions/<int:version>"): "staff",
    ("POST", "/console/v1/processes/<code>/versions/<int:version>/activate"): "admin",
    ("GET", "/console/v1/processes/<code>/compare"): "staff",
    ("POST", "/console/v1/processes/<code>/migrations"): "admin",
    ("GET", "/console/v1/requests/<request_id>"): "department",
    ("POST", "/console/v1/requests/<request_id>/notes"): "department",
    ("GET", "/console/v1/tasks"): "staff",
    ("POST", "/console/v1/requests/<request_id>/supervisions"): "department",
    ("POST", "/console/v1/requests/<request_id>/supervisions/<supervision_id>/resolve"): "department",
    ("GET", "/console/v1/supervisions"): "supervisor",
    ("POST", "/console/v1/ratings/<rating_id>/follow-up/close"): "department",
    ("GET", "/console/v1/requests/<request_id>/materials/<attachment_id>"): "department",
    ("GET", "/console/v1/services"): "staff",
    ("POST", "/console/v1/services"): "admin",
    ("GET", "/console/v1/services/<service_id>"): "staff",
    ("PATCH", "/console/v1/services/<service_id>"): "admin",
    ("GET", "/console/v1/staff/<staff_id>"): "admin",
    ("PATCH", "/console/v1/staff/<staff_id>"): "admin",
    ("POST", "/console/v1/staff/<staff_id>/password"): "admin",
    ("GET", "/console/v1/requests"): "staff",
    ("GET", "/console/v1/ratings/follow-ups"): "staff",
    ("POST", "/console/v1/ratings/<rating_id>/follow-up"): "department",
    ("POST", "/mp/v1/requests"): "resident",
    ("GET", "/mp/v1/requests"): "resident",
    ("GET", "/mp/v1/requests/<request_id>"): "owner",
    ("POST", "/mp/v1/requests/<request_id>/supplements"): "owner",
    ("POST", "/mp/v1/requests/<request_id>/withdraw"): "owner",
    ("POST", "/mp/v1/requests/<request_id>/rating"): "owner",
    ("POST", "/console/v1/requests/<request_id>/actions"): "department",
    ("GET", "/console/v1/consultations"): "staff",
    ("GET", "/console/v1/consultations/<consultation_id>"): "department",
    ("POST", "/console/v1/consultations/<consultation_id>/actions"): "department",
    ("GET", "/console/v1/notices"): "notices",
    ("POST", "/console/v1/notices"): "publisher",
    ("POST", "/console/v1/notices/attachments"): "publisher",
    ("GET", "/console/v1/notices/<notice_id>"): "notices",
    ("PATCH", "/console/v1/notices/<notice_id>"): "publisher",
    ("POST", "/console/v1/notices/<notice_id>/actions"): "publisher",  # submit: the author; a reviewer may not
    ("GET", "/console/v1/notices/<notice_id>/revisions"): "notices",
    ("GET", "/mp/v1/notices"): "public",
    ("GET", "/mp/v1/notices/<notice_id>"): "public",
    ("GET", "/mp/v1/notices/<notice_id>/attachments/<attachment_id>"): "public",
    ("GET", "/feeds/notices.rss"): "public",
    ("GET", "/feeds/notices.atom"): "public",
    ("GET", "/feeds/notices.json"): "public",
    ("GET", "/console/v1/notifications"): "staff",
    ("POST", "/console/v1/notifications/read"): "staff",
    ("GET", "/console/v1/outbox"): "admin",
    ("POST", "/console/v1/outbox/<message_id>/retry"): "admin",
    **{("GET", f"/console/v1/stats/{name}"): "stats"
       for name in ("backlog", "throughput", "cycle-times", "steps", "bottlenecks", "overdue", "rework", "ratings",
                    "event-log")},
}
DAY = "2031-05-06"
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/console/v1/calendar"): {"from": "2031-05-01", "to": "2031-05-31"},
    ("GET", "/console/v1/calendar/due"): {"received_at": "2031-05-06T10:00:00+08:00", "days": "5"},
    ("GET", "/console/v1/processes/<code>/compare"): {"from": "1", "to": "2"},
    **{("GET", f"/console/v1/stats/{name}"): {"from": "2031-05-01", "to": "2031-05-31"}
       for name in ("backlog", "throughput", "cycle-times", "steps", "bottlenecks", "overdue", "rework", "ratings")},
    ("GET", "/console/v1/stats/event-log"): {"format": "csv"},
}
# Endpoints that take multipart/form-data instead of JSON: their fields, made afresh for each call.
MULTIPART: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
    ("POST", "/mp/v1/attachments"): lambda: {"file": (io.BytesIO(_png()), "authz.png")},
    ("POST", "/console/v1/notices/attachments"): lambda: {"file": (io.BytesIO(_png()), "notice.png")},
}
# Requests an administrator makes first, so that the endpoint has something to act on.
# Headers an endpoint needs besides the token.
HEADERS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/mp/v1/requests"): {"Idempotency-Key": "authz-submission"},
}
# Where the rightful caller passes authorization but the object's state then refuses (not a 401/403/404).
RIGHTFUL_STATUS: dict[tuple[str, str], int] = {
    ("POST", "/mp/v1/requests/<request_id>/supplements"): 409,  # nothing is asked of the resident yet
    ("POST", "/mp/v1/requests/<request_id>/rating"): 409,  # not completed yet
}
# The role the department's own staff need where a handler is not enough.
OWN_DEPARTMENT_ROLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/console/v1/requests/<request_id>/supervisions"): ("supervisor",),
    ("POST", "/console/v1/requests/<request_id>/supervisions/<supervision_id>/resolve"): ("supervisor",),
    ("POST", "/console/v1/ratings/<rating_id>/follow-up/close"): ("supervisor",),
}
# Where the department's own staff pass authorization but the object's state then refuses.
OWN_DEPARTMENT_STATUS: dict[tuple[str, str], int] = {
    ("POST", "/console/v1/ratings/<rating_id>/follow-up/close"): 409,  # the follow-up is not answered yet
}
# What another department's staff get where it is not the general rule (GET 404, writes 403).
REFUSED_STATUS: dict[tuple[str, str], int] = {
    ("POST", "/console/v1/requests/<request_id>/notes"): 404,  # a note is about a request they cannot see
}
PREPARE: dict[tuple[str, str], tuple[str, str]] = {
    ("DELETE", "/console/v1/calendar/<day>"): ("PUT", "/console/v1/calendar/<day>"),
}
# Roles that may call a "department" endpoint from another department all the same: publishers read every
# consultation, since they choose what becomes public Q&A.
OTHER_DEPARTMENTS_ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/console/v1/consultations/<consultation_id>"): ("publisher",),
}


def _entries(*kinds: str) -> list[Any]:
    return [pytest.param(method, rule, id=f"{method} {rule}")
            for (method, rule), kind in ACCESS.items() if kind in kinds]


def _body(method: str, rule: str, ids: dict[str, str]) -> dict[str, Any] | None:
    """A request body that is valid in every respect but the caller's right to send it."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/mp/v1/auth/login"): {"code": "dev-authz"},
        ("PATCH", "/mp/v1/me"): {"nickname": "改了", "name": "改了名字"},
        ("POST", "/console/v1/auth/login"): {"username": "authz-admin", "password": DEMO_PASSWORD},
        ("POST", "/console/v1/departments"): {"code": "parks", "name": "区园林绿化局",
                                              "parent_id": ids["district"]},
        ("PATCH", "/console/v1/departments/<department_id>"): {"name": "改名", "expected_version": 1},
        ("POST", "/console/v1/staff"): {"username": "new-hire", "password": "long-enough-password",
                                        "department_id": ids["urban"], "roles": ["handler"]},
        ("PUT", "/console/v1/calendar/<day>"): {"kind": "closure", "name": "台风停工"},
        ("POST", "/console/v1/processes"): {"definition": _repair(3)},
        ("POST", "/console/v1/processes/<code>/migrations"): {"from_version": 1, "to_version": 2, "dry_run": True},
        ("POST", "/console/v1/requests/<request_id>/actions"): {"action": "claim", "expected_version": 1},
        ("POST", "/console/v1/requests/<request_id>/notes"): {"body": "需现场核实"},
        ("POST", "/console/v1/requests/<request_id>/supervisions"): {"comment": "请加快办理"},
        ("POST", "/console/v1/ratings/<rating_id>/follow-up/close"): {"expected_version": 1},
        ("PATCH", "/console/v1/staff/<staff_id>"): {"display_name": "新名字", "expected_version": 1},
        ("POST", "/console/v1/services"): {"code": "noise", "name": "噪音", "category": "complaint",
                                           "process_code": "repair", "time_limit_working_days": 5},
        ("PATCH", "/console/v1/services/<service_id>"): {"description": "新说明", "expected_version": 1},
        ("POST", "/console/v1/staff/<staff_id>/password"): {"password": "long-enough-password"},
        ("POST", "/console/v1/ratings/<rating_id>/follow-up"): {"answer": "已整改", "expected_version": 1},
        ("POST", "/mp/v1/requests"): {"service_id": ids["service"], "form": {}, "materials": {}},
        ("POST", "/mp/v1/requests/<request_id>/supplements"): {"answers": {"note": "补充"}, "expected_version": 1},
        ("POST", "/mp/v1/requests/<request_id>/withdraw"): {"expected_version": 1},
        ("POST", "/mp/v1/requests/<request_id>/rating"): {"level": 4},
        ("POST", "/mp/v1/consultations"): {"question": "路灯坏了找谁修？", "category": "市政"},
        ("POST", "/mp/v1/subscriptions"): {"accepted": ["tmpl-request-accepted"]},
        ("POST", "/console/v1/consultations/<consultation_id>/actions"): {"action": "claim",
                                                                          "expected_version": 1},
        ("POST", "/console/v1/notices"): {"title": "停水通知", "body": "明日停水", "category": "announcement"},
        ("PATCH", "/console/v1/notices/<notice_id>"): {"title": "停水通知（更正）", "expected_version": 1},
        ("POST", "/console/v1/notices/<notice_id>/actions"): {"action": "submit", "expected_version": 1},
    }
    return bodies.get((method, rule), {} if method in ("POST", "PUT", "PATCH") else None)


def _png() -> bytes:
    """A valid 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def _call(client: FlaskClient, method: str, rule: str, ids: dict[str, str],
          headers: dict[str, str] | None = None) -> Any:
    url = (rule.replace("/attachments/<attachment_id>", f"/attachments/{ids['notice_file']}")
           if rule.startswith("/mp/v1/notices/") else rule)
    url = (url.replace("/mp/v1/notices/<notice_id>", f"/mp/v1/notices/{ids['public_notice']}")
           .replace("<notice_id>", ids["notice"])
           .replace("<department_id>", ids["urban"]).replace("<day>", DAY).replace("<code>", "repair")
           .replace("<int:version>", "1").replace("<request_id>", ids["request"])
           .replace("<service_id>", ids["service"])
           .replace("<consultation_id>", ids["consultation"]).replace("<rating_id>", ids["rating"])
           .replace("<staff_id>", ids["staff"]).replace("<attachment_id>", ids["attachment"])
           .replace("<supervision_id>", ids["supervision"]).replace("<message_id>", ids["message"]))
    if (method, rule) in MULTIPART:
        return client.open(url, method=method, data=MULTIPART[(method, rule)](), headers=headers or {},
                           content_type="multipart/form-data", query_string=QUERIES.get((method, rule)))
    return client.open(url, method=method, json=_body(method, rule, ids),
                       headers={**HEADERS.get((method, rule), {}), **(headers or {})},
                       query_string=QUERIES.get((method, rule)), buffered=True)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def _state(app: Flask) -> dict[str, int]:
    """What a refused request must not have changed."""
    return {table: count_rows(app, table) for table in ("departments", "staff", "audit_records", "residents",
                                                        "process_versions", "request_events", "attachments",
                                                        "consultations", "subscription_grants", "requests",
                                                        "request_notes", "ratings", "request_supervisions",
                                                        "outbox_messages", "staff_notifications", "notices",
                                                        "notice_revisions", "search_documents")}


class _Tokens:
    """Tokens by who holds them, signed in on first use: ``admin``, ``resident`` or a non-admin role."""

    def __init__(self, staff_token: Callable[..., str], resident_token: Callable[[str], str]) -> None:
        self._staff_token, self._resident_token = staff_token, resident_token
        self._cache: dict[str, str] = {}

    def __getitem__(self, who: str) -> str:
        if who not in self._cache:
            if who == "admin":
                self._cache[who] = self._staff_token("authz-admin", "district", ("admin",))
            elif who == "resident":
                self._cache[who] = self._resident_token("authz-resident")
            else:  # in another department than the one the requests are about
                self._cache[who] = self._staff_token(f"housing-{who}", "housing", (who,))
        return self._cache[who]


def _repair(name_suffix: int) -> dict[str, Any]:
    data = builtin_definition_data("repair")
    data["name"] = f"报修（第{name_suffix}版）"
    return data


@pytest.fixture
def departments(app: Flask, departments: dict[str, str]) -> dict[str, str]:
    """The conftest's departments, plus two versions of the repair process and a request with urban on it."""
    with app.app_context():
        process_operations.upload(SYSTEM, _repair(1), activate=True)
        process_operations.upload(SYSTEM, _repair(2))
        service = catalog_operations.create_service(SYSTEM, code="repair", name="报修", category="repair",
                                                    process_code="repair", time_limit_working_days=3)
        owner = Resident(openid="o-authz-owner")
        db.session.add(owner)
        db.session.flush()
        photo = Attachment(owner_kind="resident", owner_id=owner.id, filename="lamp.png", content_type="image/png",
                           size=len(_png()), sha256=storage_for(app).put(_png()))
        db.session.add(photo)
        db.session.flush()
        request = request_operations.submit(Actor(kind="resident", id=owner.id), service, {}, {"photos": [photo.id]})
        app.config["CONSULTATION_DEPARTMENT"] = "urban"
        consultation = consultation_operations.ask(Actor(kind="resident", id=owner.id), "路灯坏了找谁修？", None, [])
        # a second request, completed by urban and rated 1: a follow-up for urban to answer
        urban = Actor(kind="staff", id="authz-urban-officer", department_id=departments["urban"],
                      roles=frozenset({"handler"}))
        finished = request_operations.submit(Actor(kind="resident", id=owner.id), service, {}, {})
        request_operations.act(urban, finished.id, "accept", None, {}, 1)
        request_operations.act(urban, finished.id, "complete", None, {}, 2)
        rating = request_operations.rate(Actor(kind="resident", id=owner.id), finished.id, 1, "太慢", [])
        target = account_operations.create_staff(SYSTEM, username="authz-target", password="long-enough-password",
                                                 department_id=departments["urban"], roles=["handler"])
        overseer = account_operations.create_staff(SYSTEM, username="authz-overseer",
                                                   password="long-enough-password",
                                                   department_id=departments["urban"], roles=["supervisor"])
        supervision = request_operations.supervise(
            Actor(kind="staff", id=overseer.id, department_id=departments["urban"], roles=frozenset({"supervisor"})),
            request.id, "请加快办理", None)
        dead = OutboxMessage(idempotency_key="authz-dead-letter", channel="wechat", event="request_accepted",
                             recipient_kind="resident", recipient_id=owner.id, subject_type="request",
                             subject_id=request.id, status="dead", attempts=8, last_error="WeChat errcode -1")
        db.session.add(dead)
        notices = _notices(departments["district"])
        db.session.commit()
        return {**departments, "request": request.id, "service": service.id, "consultation": consultation.id,
                "rating": rating.id, "staff": target.id, "attachment": photo.id, "supervision": supervision.id,
                "message": dead.id, **notices}


def _notices(department_id: str) -> dict[str, str]:
    """A draft notice, and a published one with an attachment."""
    writer = account_operations.create_staff(SYSTEM, username="authz-writer", password="long-enough-password",
                                             department_id=department_id, roles=["publisher"])
    checker = account_operations.create_staff(SYSTEM, username="authz-checker", password="long-enough-password",
                                              department_id=department_id, roles=["reviewer"])
    author = Actor(kind="staff", id=writer.id, department_id=department_id, roles=frozenset({"publisher"}))
    reviewer = Actor(kind="staff", id=checker.id, department_id=department_id, roles=frozenset({"reviewer"}))
    scan = Attachment(owner_kind="staff", owner_id=writer.id, filename="scan.png", content_type="image/png",
                      size=len(_png()), sha256=storage_for(current_app).put(_png()))
    db.session.add(scan)
    db.session.flush()
    draft = notice_operations.create(author, "停水通知", "明日停水", "announcement")
    public = notice_operations.create(author, "停电通知", "明日停电", "announcement", attachments=[scan.id])
    notice_operations.act(author, public.id, "submit", None, {}, 1)
    notice_operations.act(reviewer, public.id, "approve", None, {}, 2)
    return {"notice": draft.id, "public_notice": public.id, "notice_file": scan.id}


@pytest.fixture
def tokens(departments: dict[str, str], staff_token: Callable[..., str],
           resident_token: Callable[[str], str]) -> _Tokens:
    return _Tokens(staff_token, resident_token)


def test_the_table_covers_every_endpoint(app: Flask) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule in NOT_ACCESS_CONTROLLED or rule.rule.startswith("/api/"):
            continue
        routes.update((method, rule.rule) for method in rule.methods or () if method not in ("HEAD", "OPTIONS"))

    assert routes - set(ACCESS) == set(), "new endpoints: add them to ACCESS with who may call them"
    assert set(ACCESS) - routes == set(), "ACCESS lists endpoints that no longer exist"


@pytest.mark.parametrize(("method", "rule"), _entries("resident", "own", "owner", "staff", "admin", "department",
                                                   "supervisor", "stats", "notices", "publisher"))
def test_anonymous_is_401(app: Flask, client: FlaskClient, departments: dict[str, str],
                          method: str, rule: str) -> None:
    before = _state(app)

    response = _call(client, method, rule, departments)

    _problem(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert _state(app) == before


@pytest.mark.parametrize(("method", "rule"), _entries("resident", "own", "owner", "staff", "admin", "department",
                                                   "supervisor", "stats", "notices", "publisher"))
def test_the_wrong_kind_of_token_is_401(app: Flask, client: FlaskClient, departments: dict[str, str],
                                        tokens: _Tokens, method: str, rule: str) -> None:
    wrong = tokens["admin"] if ACCESS[(method, rule)] in ("resident", "own", "owner") else tokens["resident"]
    before = _state(app)

    _problem(_call(client, method, rule, departments, bearer(wrong)), 401)

    assert _state(app) == before


@pytest.mark.parametrize(("method", "rule"), _entries("admin"))
def test_staff_without_the_admin_role_get_403(app: Flask, client: FlaskClient, departments: dict[str, str],
                                              tokens: _Tokens, method: str, rule: str) -> None:
    admin, others = tokens["admin"], [tokens[role] for role in NON_ADMIN_ROLES]
    if (method, rule) in PREPARE:
        prepared = _call(client, *PREPARE[(method, rule)], departments, bearer(admin))
        assert 200 <= prepared.status_code < 300, prepared.get_json()
    before = _state(app)

    for token in others:
        _problem(_call(client, method, rule, departments, bearer(token)), 403)

    assert _state(app) == before
    # The same request from an administrator goes through: the refusal was about the role alone.
    allowed = _call(client, method, rule, departments, bearer(admin))
    assert 200 <= allowed.status_code < 300, allowed.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("staff"))
def test_any_staff_member_may_call_staff_endpoints(client: FlaskClient, departments: dict[str, str],
                                                   tokens: _Tokens, method: str, rule: str) -> None:
    response = _call(client, method, rule, departments, bearer(tokens["handler"]))

    assert 200 <= response.status_code < 300, response.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("resident", "own"))
def test_residents_may_call_resident_endpoints(client: FlaskClient, departments: dict[str, str],
                                               tokens: _Tokens, method: str, rule: str) -> None:
    response = _call(client, method, rule, departments, bearer(tokens["resident"]))

    assert 200 <= response.status_code < 300, response.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("public"))
def test_public_endpoints_need_no_token(client: FlaskClient, departments: dict[str, str],
                                        tokens: _Tokens, method: str, rule: str) -> None:
    assert tokens["admin"]  # the account the staff login uses

    response = _call(client, method, rule, departments)

    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("own"))
def test_a_resident_never_sees_or_changes_another_residents_data(
    app: Flask, client: FlaskClient, departments: dict[str, str], resident_token: Callable[[str], str],
    method: str, rule: str,
) -> None:
    first = bearer(resident_token("first-resident"))
    mine = client.patch("/mp/v1/me", json={"name": "第一位居民", "phone": "13800138000"}, headers=first)
    assert mine.status_code == 200
    other = bearer(resident_token("second-resident"))

    response = _call(client, method, rule, departments, other)

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert response.get_json()["id"] != mine.get_json()["id"]
    for secret in (mine.get_json()["id"], "第一位居民", "13800138000"):
        assert secret not in text
    assert client.get("/mp/v1/me", headers=first).get_json() == mine.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("department"))
def test_another_departments_staff_are_refused(app: Flask, client: FlaskClient, departments: dict[str, str],
                                               tokens: _Tokens, staff_token: Callable[..., str],
                                               method: str, rule: str) -> None:
    # housing staff of every role, and a district administrator (signed in before the snapshot)
    also_allowed = OTHER_DEPARTMENTS_ALLOWED.get((method, rule), ())
    others = [tokens[who] for who in (*NON_ADMIN_ROLES, "admin") if who not in also_allowed]
    before = _state(app)

    for token in others:
        response = _call(client, method, rule, departments, bearer(token))
        # reading someone else's request: 404 (not yours); acting on it: 403
        _problem(response, REFUSED_STATUS.get((method, rule), 404 if method == "GET" else 403))

    assert _state(app) == before
    for who in also_allowed:
        response = _call(client, method, rule, departments, bearer(tokens[who]))
        assert 200 <= response.status_code < 300, response.get_json()
    own = bearer(staff_token("urban-officer", "urban", OWN_DEPARTMENT_ROLES.get((method, rule), ("handler",))))
    allowed = _call(client, method, rule, departments, own)
    if (method, rule) in OWN_DEPARTMENT_STATUS:
        _problem(allowed, OWN_DEPARTMENT_STATUS[(method, rule)])
    else:
        assert 200 <= allowed.status_code < 300, allowed.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("owner"))
def test_only_the_owner_sees_their_object(app: Flask, client: FlaskClient, departments: dict[str, str],
                                          tokens: _Tokens, resident_token: Callable[[str], str],
                                          method: str, rule: str) -> None:
    other = bearer(tokens["resident"])  # signed in before the snapshot
    before = _state(app)

    _problem(_call(client, method, rule, departments, other), 404)

    assert _state(app) == before
    owner = bearer(resident_token("authz-owner"))  # the resident the fixture's objects belong to
    allowed = _call(client, method, rule, departments, owner)
    if (method, rule) in RIGHTFUL_STATUS:
        _problem(allowed, RIGHTFUL_STATUS[(method, rule)])
    else:
        assert 200 <= allowed.status_code < 300, allowed.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("supervisor"))
def test_only_supervisors(app: Flask, client: FlaskClient, departments: dict[str, str], tokens: _Tokens,
                          method: str, rule: str) -> None:
    others = [tokens[who] for who in ("handler", "publisher", "reviewer", "admin")]
    before = _state(app)

    for token in others:
        _problem(_call(client, method, rule, departments, bearer(token)), 403)

    assert _state(app) == before
    allowed = _call(client, method, rule, departments, bearer(tokens["supervisor"]))
    assert 200 <= allowed.status_code < 300, allowed.get_json()


@pytest.mark.parametrize(("method", "rule"), _entries("stats"))
def test_statistics_are_for_supervisors_and_administrators(app: Flask, client: FlaskClient,
                                                           departments: dict[str, str], tokens: _Tokens,
                                                           method: str, rule: str) -> None:
    others = [tokens[who] for who in ("handler", "publisher", "reviewer")]
    before = _state(app)

    for token in others:
        _problem(_call(client, method, rule, departments, bearer(token)), 403)

    assert _state(app) == before
    for who in ("supervisor", "admin"):
        allowed = _call(client, method, rule, departments, bearer(tokens[who]))
        assert allowed.status_code == 200, allowed.get_data(as_text=True)


@pytest.mark.parametrize(("method", "rule"), _entries("notices", "publisher"))
def test_notices_are_for_publishers_and_reviewers(app: Flask, client: FlaskClient, departments: dict[str, str],
                                                  tokens: _Tokens, method: str, rule: str) -> None:
    allowed = ("publisher",) if ACCESS[(method, rule)] == "publisher" else ("publisher", "reviewer")
    others = [tokens[who] for who in ("handler", "supervisor", "admin", "reviewer") if who not in allowed]
    before = _state(app)

    for token in others:
        _problem(_call(client, method, rule, departments, bearer(token)), 403)

    assert _state(app) == before
    for who in allowed:
        token = tokens[who]
        if (method, rule) == ("POST", "/console/v1/notices/<notice_id>/actions"):
            # submit is the author's (or an editor's): another publisher is refused, the author goes through
            _problem(_call(client, method, rule, departments, bearer(token)), 403)
            token = client.post("/console/v1/auth/login", json={"username": "authz-writer",
                                                                "password": "long-enough-password"}).get_json()["token"]
        response = _call(client, method, rule, departments, bearer(token))
        assert 200 <= response.status_code < 300, response.get_data(as_text=True)
