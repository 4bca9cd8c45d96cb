"""A resident's consultations: ask (with materials), list mine, read the answer; personal data masked everywhere
but the asker's own detail view, and never logged."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.accounts.models import Department
from service.attachments.models import Attachment
from service.calendar.queries import load_calendar, time_zone
from service.consultations import operations
from service.consultations.models import Consultation
from service.core.auth import SYSTEM, Actor
from service.core.db import db
from service.engine.clock import Clock
from service.processes import operations as process_operations
from service.processes.builtin import builtin_definition_data
from tests.conftest import bearer, count_rows, problem

PROBLEM = "application/problem+json"
URL = "/mp/v1/consultations"
PHONE = "13800138000"
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def alice(client: FlaskClient, demo: Flask, resident_token: Callable[[str], str]) -> dict[str, Any]:
    headers = bearer(resident_token("alice"))
    return {"headers": headers, "id": client.get("/mp/v1/me", headers=headers).get_json()["id"]}


@pytest.fixture
def bob(client: FlaskClient, demo: Flask, resident_token: Callable[[str], str]) -> dict[str, Any]:
    headers = bearer(resident_token("bob"))
    return {"headers": headers, "id": client.get("/mp/v1/me", headers=headers).get_json()["id"]}


def attachment(app: Flask, owner_id: str, owner_kind: str = "resident") -> str:
    with app.app_context():
        row = Attachment(owner_kind=owner_kind, owner_id=owner_id, filename="证明.pdf",
                         content_type="application/pdf", size=1024, sha256="0" * 64)
        db.session.add(row)
        db.session.commit()
        return row.id


def ask(client: FlaskClient, resident: dict[str, Any], question: str = "社保卡丢了怎么补办？", **body: Any) -> Any:
    return client.post(URL, json={"question": question, **body}, headers=resident["headers"])


def act(client: FlaskClient, headers: dict[str, str], consultation_id: str, action: str, **body: Any) -> Any:
    version = client.get(f"/console/v1/consultations/{consultation_id}", headers=headers).get_json()["version"]
    response = client.post(f"/console/v1/consultations/{consultation_id}/actions", headers=headers,
                           json={"action": action, "expected_version": version, **body})
    assert response.status_code == 200, response.get_json()
    return response


# --- asking ----------------------------------------------------------------------------------------------------

def test_ask_creates_a_consultation_for_the_service_center(app: Flask, client: FlaskClient,
                                                           alice: dict[str, Any]) -> None:
    response = ask(client, alice, category="社保")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {"id", "question", "answer", "status", "asked_at", "answered_at", "version"} <= set(body)
    assert body["question"] == "社保卡丢了怎么补办？"
    assert body["category"] == "社保"
    assert body["status"] == "submitted"
    assert body["answer"] is None
    assert body["answered_at"] is None
    assert body["published"] is False
    assert body["version"] == 1
    assert body["materials"] == []
    assert body["asked_at"].endswith("+08:00")
    assert body["due_at"].endswith("T23:59:59+08:00")
    assert response.headers["ETag"] == '"1"'
    with app.app_context():
        row = db.session.get(Consultation, body["id"])
        assert row is not None
        department = db.session.get(Department, row.department_id)
        assert department is not None
        assert department.code == "service-center"
        assert row.resident_id == alice["id"]
        expected = Clock.start(row.asked_at, 5).due_at(load_calendar(), time_zone(), row.asked_at)
        assert row.due_at == expected
        assert [entry["action"] for entry in row.history] == ["ask"]
    assert count_rows(app, "audit_records", object_type="consultation", object_id=body["id"]) == 1


def test_the_deadline_follows_the_consultation_process(app: Flask, demo: Flask, alice: dict[str, Any]) -> None:
    asked = datetime.fromisoformat("2031-05-06T10:00:00+08:00")  # a Tuesday
    resident = Actor(kind="resident", id=alice["id"])
    with app.app_context():
        five = operations.ask(resident, "问题一", None, [], at=asked)
        assert five.due_at == datetime.fromisoformat("2031-05-13T23:59:59+08:00")
        data = builtin_definition_data("consultation")
        data["time_limit_working_days"] = 3
        process_operations.upload(SYSTEM, data, activate=True)
        three = operations.ask(resident, "问题二", None, [], at=asked)
        assert three.due_at == datetime.fromisoformat("2031-05-09T23:59:59+08:00")
        db.session.rollback()


def test_without_a_consultation_process_the_limit_is_five_working_days(app: Flask, departments: dict[str, str],
                                                                       client: FlaskClient,
                                                                       resident_token: Callable[[str], str]) -> None:
    app.config["CONSULTATION_DEPARTMENT"] = "urban"
    headers = bearer(resident_token("carol"))
    resident_id = client.get("/mp/v1/me", headers=headers).get_json()["id"]
    asked = datetime.fromisoformat("2031-05-06T10:00:00+08:00")
    with app.app_context():
        consultation = operations.ask(Actor(kind="resident", id=resident_id), "问题", None, [], at=asked)
        assert consultation.due_at == datetime.fromisoformat("2031-05-13T23:59:59+08:00")
        assert consultation.department_id == departments["urban"]


def test_ask_with_own_materials(app: Flask, client: FlaskClient, alice: dict[str, Any]) -> None:
    first, second = attachment(app, alice["id"]), attachment(app, alice["id"])

    response = ask(client, alice, materials=[first, second, first])

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["materials"] == [first, second]


@pytest.mark.parametrize("whose", ["another resident", "a staff member", "nobody"])
def test_materials_must_be_the_residents_own(app: Flask, client: FlaskClient, alice: dict[str, Any],
                                             bob: dict[str, Any], whose: str) -> None:
    mine = attachment(app, alice["id"])
    other = {"another resident": lambda: attachment(app, bob["id"]),
             "a staff member": lambda: attachment(app, alice["id"], owner_kind="staff"),
             "nobody": lambda: "01jzzzzzzzzzzzzzzzzzzzzzzz"}[whose]()

    body = problem(ask(client, alice, materials=[mine, other]), 422)

    assert body["errors"] == {"materials": ["Unknown attachment."]}
    assert count_rows(app, "consultations") == 0


@pytest.mark.parametrize(("body", "field"), [
    ({}, "question"),
    ({"question": None}, "question"),
    ({"question": "  "}, "question"),
    ({"question": "问" * 2001}, "question"),
    ({"question": 42}, "question"),
    ({"question": "正常的问题", "category": ""}, "category"),
    ({"question": "正常的问题", "category": "类" * 65}, "category"),
    ({"question": "正常的问题", "materials": "not-a-list"}, "materials"),
    ({"question": "正常的问题", "materials": ["x"] * 21}, "materials"),
    ({"question": "正常的问题", "materials": [""]}, "materials.0"),
    ({"question": "正常的问题", "resident_id": "someone"}, "resident_id"),
])
def test_validation_errors_name_the_field(app: Flask, client: FlaskClient, alice: dict[str, Any],
                                          body: dict[str, Any], field: str) -> None:
    response = client.post(URL, json=body, headers=alice["headers"])

    assert field in problem(response, 422)["errors"]
    assert count_rows(app, "consultations") == 0


def test_ask_needs_json(client: FlaskClient, alice: dict[str, Any]) -> None:
    problem(client.post(URL, data="question=x", headers=alice["headers"],
                        content_type="application/x-www-form-urlencoded"), 415)


# --- reading -------------------------------------------------------------------------------------------------

def test_list_mine_newest_first_with_status_filter_and_cursor(app: Flask, client: FlaskClient,
                                                              alice: dict[str, Any], bob: dict[str, Any]) -> None:
    ids = [ask(client, alice, f"第{i}个问题").get_json()["id"] for i in range(3)]
    ask(client, bob, "鲍勃的问题")

    first = client.get(URL, query_string={"limit": 2}, headers=alice["headers"])
    assert first.status_code == 200
    page = first.get_json()
    assert [item["id"] for item in page["items"]] == ids[:0:-1]
    assert page["next_cursor"]
    rest = client.get(URL, query_string={"limit": 2, "cursor": page["next_cursor"]}, headers=alice["headers"])
    assert [item["id"] for item in rest.get_json()["items"]] == [ids[0]]
    assert rest.get_json()["next_cursor"] is None

    with app.app_context():
        row = db.session.get(Consultation, ids[1])
        assert row is not None
        row.status = "claimed"
        db.session.commit()
    claimed = client.get(URL, query_string={"status": "claimed"}, headers=alice["headers"]).get_json()
    assert [item["id"] for item in claimed["items"]] == [ids[1]]
    assert client.get(URL, headers=bob["headers"]).get_json()["items"][0]["question"] == "鲍勃的问题"


@pytest.mark.parametrize(("query", "status", "field"), [
    ({"status": "closed"}, 422, "status"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": "many"}, 422, "limit"),
    ({"cursor": "not-a-cursor"}, 400, "cursor"),
])
def test_list_validation(client: FlaskClient, alice: dict[str, Any], query: dict[str, Any], status: int,
                         field: str) -> None:
    assert field in problem(client.get(URL, query_string=query, headers=alice["headers"]), status)["errors"]


def test_another_residents_consultation_is_404(client: FlaskClient, alice: dict[str, Any],
                                               bob: dict[str, Any]) -> None:
    consultation_id = ask(client, alice).get_json()["id"]

    problem(client.get(f"{URL}/{consultation_id}", headers=bob["headers"]), 404)
    problem(client.get(f"{URL}/no-such-id", headers=alice["headers"]), 404)
    assert client.get(URL, headers=bob["headers"]).get_json()["items"] == []
    assert client.get(f"{URL}/{consultation_id}", headers=alice["headers"]).status_code == 200


@pytest.mark.parametrize(("method", "path"), [("POST", URL), ("GET", URL), ("GET", URL + "/{id}")])
def test_anonymous_and_staff_tokens_are_401(app: Flask, client: FlaskClient, alice: dict[str, Any],
                                            login_as: Callable[[str], dict[str, str]], method: str,
                                            path: str) -> None:
    consultation_id = ask(client, alice).get_json()["id"]
    url = path.replace("{id}", consultation_id)
    body = {"question": "匿名的问题"} if method == "POST" else None

    for headers in ({}, login_as("service-center-handler"), login_as("admin")):
        response = client.open(url, method=method, json=body, headers=headers)
        problem(response, 401)
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert count_rows(app, "consultations") == 1


def test_the_answer_shows_once_answered_and_never_staff_names(app: Flask, client: FlaskClient,
                                                             alice: dict[str, Any],
                                                             login_as: Callable[[str], dict[str, str]]) -> None:
    consultation_id = ask(client, alice).get_json()["id"]
    handler = login_as("service-center-handler")
    handler_id = client.get("/console/v1/auth/me", headers=handler).get_json()["id"]

    act(client, handler, consultation_id, "claim")
    claimed = client.get(f"{URL}/{consultation_id}", headers=alice["headers"]).get_json()
    assert claimed["status"] == "claimed"
    assert claimed["answer"] is None

    act(client, handler, consultation_id, "answer", data={"answer": "请携带身份证到政务服务中心补办。"})
    detail = client.get(f"{URL}/{consultation_id}", headers=alice["headers"])
    body = detail.get_json()
    assert body["status"] == "answered"
    assert body["answer"] == "请携带身份证到政务服务中心补办。"
    assert body["answered_at"].endswith("+08:00")
    assert body["version"] == 3
    assert detail.headers["ETag"] == '"3"'
    listed = client.get(URL, headers=alice["headers"]).get_json()["items"][0]
    assert listed["answer"] == body["answer"]
    for response in (detail, client.get(URL, headers=alice["headers"])):
        text = response.get_data(as_text=True)
        for secret in (handler_id, "service-center-handler", "claimed_by", "answered_by", "history"):
            assert secret not in text

    act(client, login_as("service-center-supervisor"), consultation_id, "send_back", comment="答复不完整")
    again = client.get(f"{URL}/{consultation_id}", headers=alice["headers"]).get_json()
    assert again["status"] == "submitted"
    assert again["answer"] is None
    assert again["answered_at"] is None


# --- personal data ---------------------------------------------------------------------------------------------

@pytest.fixture
def civicdesk_log() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("civicdesk")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_personal_data_is_masked_except_in_the_askers_detail_and_never_logged(
    app: Flask, client: FlaskClient, alice: dict[str, Any], login_as: Callable[[str], dict[str, str]],
    civicdesk_log: list[logging.LogRecord],
) -> None:
    question = f"我的手机号 {PHONE}，身份证 {ID_NUMBER}，社保卡怎么补办？"
    created = ask(client, alice, question)
    assert created.get_json()["question"] == question
    consultation_id = created.get_json()["id"]

    detail = client.get(f"{URL}/{consultation_id}", headers=alice["headers"]).get_json()
    assert detail["question"] == question
    listed = client.get(URL, headers=alice["headers"]).get_json()["items"][0]
    assert listed["question"] == "我的手机号 138****8000，身份证 1101**********002X，社保卡怎么补办？"
    staff = login_as("service-center-handler")
    queue = client.get("/console/v1/consultations", headers=staff).get_data(as_text=True)
    staff_detail = client.get(f"/console/v1/consultations/{consultation_id}", headers=staff).get_data(as_text=True)
    for text in (queue, staff_detail):
        assert "138****8000" in text
        assert PHONE not in text
        assert ID_NUMBER not in text
    client.get("/mp/v1/faq", query_string={"q": PHONE})
    client.get(URL, query_string={"status": PHONE}, headers=alice["headers"])  # a 422 echoes no value either

    assert civicdesk_log, "the request log was not captured"
    for record in civicdesk_log:
        logged = record.getMessage() + repr(vars(record))
        assert PHONE not in logged
        assert ID_NUMBER not in logged
    with app.app_context():
        audit = db.session.execute(sa.text("SELECT data FROM audit_records")).scalars().all()
        assert all(PHONE not in str(data) and ID_NUMBER not in str(data) for data in audit)


def test_masking_of_numbers_in_text() -> None:
    from service.consultations.schemas import contains_personal_data, mask_personal_data

    assert mask_personal_data("电话138 0013 8000或+86-139-0000-1111") == "电话138****8000或139****1111"
    assert mask_personal_data(f"证件{ID_NUMBER.lower()}。") == "证件1101**********002x。"
    assert mask_personal_data("热线12345，编号2024001") == "热线12345，编号2024001"
    assert mask_personal_data(None) is None
    assert contains_personal_data(f"x{PHONE}y") is False  # inside a longer word it is not a number
    assert contains_personal_data(f"拨打{PHONE}")
    assert not contains_personal_data("订单号 1234567890123456789012")


# --- retries ---------------------------------------------------------------------------------------------------

def test_idempotent_replay(app: Flask, client: FlaskClient, alice: dict[str, Any]) -> None:
    headers = {**alice["headers"], "Idempotency-Key": "ask-1"}
    body = {"question": "重复提交会怎样？", "category": "其他"}

    first = client.post(URL, json=body, headers=headers)
    again = client.post(URL, json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert count_rows(app, "consultations") == 1
    changed = client.post(URL, json={**body, "question": "另一个问题"}, headers=headers)
    assert "Idempotency-Key" in problem(changed, 422)["errors"]
    assert count_rows(app, "consultations") == 1


def test_a_refused_ask_releases_its_key(app: Flask, client: FlaskClient, alice: dict[str, Any]) -> None:
    headers = {**alice["headers"], "Idempotency-Key": "ask-2"}
    problem(client.post(URL, json={"question": "x"}, headers=headers), 422)

    assert client.post(URL, json={"question": "改好的问题"}, headers=headers).status_code == 201
    assert count_rows(app, "consultations") == 1
