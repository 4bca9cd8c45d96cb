"""Staff handle consultations: the department's queue, claim, answer, send back, publish as public Q&A."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.consultations.models import Consultation
from service.core.db import db
from tests.conftest import bearer, count_rows, problem

PROBLEM = "application/problem+json"
URL = "/console/v1/consultations"
PHONE = "13800138000"
ID_NUMBER = "11010519491231002X"
QUESTION = f"我叫张三，电话{PHONE}，我家楼下的路灯坏了一个月了，找谁修？"
ANSWER = "路灯维修请拨打12319城管热线，或在小程序提交报修。"
PUBLIC_QUESTION = "小区楼下路灯坏了很久，找谁修？"
PUBLIC_ANSWER = "路灯维修请拨打12319城管热线，或在小程序“报修”中提交。"

Login = Callable[[str], dict[str, str]]


@pytest.fixture
def resident(client: FlaskClient, demo: Flask, resident_token: Callable[[str], str]) -> dict[str, str]:
    return bearer(resident_token("alice"))


@pytest.fixture
def ask(client: FlaskClient, resident: dict[str, str]) -> Callable[..., str]:
    def ask(question: str = QUESTION, category: str | None = "市政") -> str:
        response = client.post("/mp/v1/consultations", json={"question": question, "category": category},
                               headers=resident)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["id"])

    return ask


def act(client: FlaskClient, headers: dict[str, str], consultation_id: str, action: str,
        version: int | None = None, **body: Any) -> Any:
    if version is None:
        version = client.get(f"{URL}/{consultation_id}", headers=headers).get_json()["version"]
    return client.post(f"{URL}/{consultation_id}/actions", headers=headers,
                       json={"action": action, "expected_version": version, **body})


def stored(app: Flask, consultation_id: str) -> dict[str, Any]:
    with app.app_context():
        row = db.session.get(Consultation, consultation_id)
        assert row is not None
        return {"status": row.status, "version": row.version, "history": len(row.history), "answer": row.answer,
                "claimed_by": row.claimed_by, "public_question": row.public_question}


def answered(client: FlaskClient, login_as: Login, consultation_id: str) -> int:
    handler = login_as("service-center-handler")
    assert act(client, handler, consultation_id, "claim").status_code == 200
    response = act(client, handler, consultation_id, "answer", data={"answer": ANSWER})
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["version"])


# --- the whole way -------------------------------------------------------------------------------------------

def test_ask_claim_answer_read_publish_and_find_in_the_faq(app: Flask, client: FlaskClient, login_as: Login,
                                                           resident: dict[str, str], ask: Callable[..., str]) -> None:
    consultation_id = ask()
    handler = login_as("service-center-handler")
    handler_id = client.get("/console/v1/auth/me", headers=handler).get_json()["id"]

    queue = client.get(URL, headers=handler).get_json()
    assert [item["id"] for item in queue["items"]] == [consultation_id]
    assert queue["items"][0]["status"] == "submitted"
    assert queue["items"][0]["overdue"] is False
    detail = client.get(f"{URL}/{consultation_id}", headers=handler)
    assert detail.status_code == 200
    assert detail.headers["ETag"] == '"1"'
    assert detail.get_json()["allowed_actions"] == ["claim"]

    claimed = act(client, handler, consultation_id, "claim", 1)
    assert claimed.status_code == 200, claimed.get_json()
    body = claimed.get_json()
    assert (body["status"], body["claimed_by"], body["version"]) == ("claimed", handler_id, 2)
    assert body["allowed_actions"] == ["answer", "send_back"]
    assert claimed.headers["ETag"] == '"2"'

    answered = act(client, handler, consultation_id, "answer", 2, data={"answer": f"  {ANSWER}  "}, comment="已答复")
    body = answered.get_json()
    assert (body["status"], body["answer"], body["answered_by"]) == ("answered", ANSWER, handler_id)
    assert body["answered_at"].endswith("+08:00")
    assert body["allowed_actions"] == ["send_back"]  # a handler does not publish

    mine = client.get(f"/mp/v1/consultations/{consultation_id}", headers=resident).get_json()
    assert (mine["status"], mine["answer"], mine["question"]) == ("answered", ANSWER, QUESTION)

    publisher = login_as("publisher")
    publisher_view = client.get(f"{URL}/{consultation_id}", headers=publisher).get_json()
    assert publisher_view["allowed_actions"] == ["send_back", "publish"]
    published = act(client, publisher, consultation_id, "publish", 3,
                     data={"question": PUBLIC_QUESTION, "answer": PUBLIC_ANSWER})
    assert published.status_code == 200, published.get_json()
    body = published.get_json()
    assert body["status"] == "published"
    assert body["published_at"].endswith("+08:00")
    assert (body["public_question"], body["public_answer"]) == (PUBLIC_QUESTION, PUBLIC_ANSWER)
    assert body["allowed_actions"] == []
    assert [(h["action"], h["from_status"], h["to_status"]) for h in body["history"]] == [
        ("ask", None, "submitted"), ("claim", "submitted", "claimed"), ("answer", "claimed", "answered"),
        ("publish", "answered", "published")]
    assert body["history"][2]["comment"] == "已答复"
    assert body["history"][2]["actor_id"] == handler_id
    assert body["history"][3]["at"].endswith("+08:00")
    assert count_rows(app, "audit_records", object_type="consultation", object_id=consultation_id) == 4

    faq = client.get("/mp/v1/faq").get_json()
    assert faq["items"] == [{"id": consultation_id, "question": PUBLIC_QUESTION, "answer": PUBLIC_ANSWER,
                             "category": "市政", "published_at": body["published_at"],
                             "highlighted_question": PUBLIC_QUESTION, "snippet": PUBLIC_ANSWER}]
    text = client.get("/mp/v1/faq").get_data(as_text=True)
    assert "张三" not in text
    assert PHONE not in text
    assert ANSWER not in text
    assert client.get(f"/mp/v1/consultations/{consultation_id}", headers=resident).get_json()["published"] is True


def test_a_supervisor_may_answer_what_another_claimed_and_publish(client: FlaskClient, login_as: Login,
                                                                  ask: Callable[..., str]) -> None:
    consultation_id = ask()
    act(client, login_as("service-center-handler"), consultation_id, "claim")
    supervisor = login_as("service-center-supervisor")

    assert client.get(f"{URL}/{consultation_id}", headers=supervisor).get_json()["allowed_actions"] == [
        "answer", "send_back"]
    assert act(client, supervisor, consultation_id, "answer", data={"answer": ANSWER}).status_code == 200
    response = act(client, supervisor, consultation_id, "publish",
                   data={"question": PUBLIC_QUESTION, "answer": PUBLIC_ANSWER})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "published"


def test_send_back_returns_it_to_the_queue(app: Flask, client: FlaskClient, login_as: Login,
                                           ask: Callable[..., str]) -> None:
    consultation_id = ask()
    version = answered(client, login_as, consultation_id)
    publisher = login_as("publisher")

    response = act(client, publisher, consultation_id, "send_back", version, comment="答复需补充办理地点")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["claimed_by"], body["answer"], body["answered_at"]) == (
        "submitted", None, None, None)
    assert body["history"][-1]["comment"] == "答复需补充办理地点"
    handler = login_as("service-center-handler")
    assert client.get(f"{URL}/{consultation_id}", headers=handler).get_json()["allowed_actions"] == ["claim"]
    with app.app_context():
        row = db.session.get(Consultation, consultation_id)
        assert row is not None
        assert row.history[2]["answer"] == ANSWER  # the answer sent back stays in the history


# --- refusals ----------------------------------------------------------------------------------------------

def test_illegal_action_is_409_with_allowed_actions(app: Flask, client: FlaskClient, login_as: Login,
                                                    ask: Callable[..., str]) -> None:
    consultation_id = ask()
    handler = login_as("service-center-handler")
    before = stored(app, consultation_id)

    for action, data in (("answer", {"answer": ANSWER}), ("send_back", {}), ("publish", {})):
        body = problem(act(client, handler, consultation_id, action, 1, data=data, comment="x"), 409)
        assert body["allowed_actions"] == ["claim"]
    assert act(client, handler, consultation_id, "claim", 1).status_code == 200
    again = problem(act(client, handler, consultation_id, "claim", 2), 409)
    assert again["allowed_actions"] == ["answer", "send_back"]
    assert stored(app, consultation_id)["history"] == before["history"] + 1


def test_stale_version_is_409_and_changes_nothing(app: Flask, client: FlaskClient, login_as: Login,
                                                  ask: Callable[..., str]) -> None:
    consultation_id = ask()
    handler = login_as("service-center-handler")
    assert act(client, handler, consultation_id, "claim", 1).status_code == 200
    before = stored(app, consultation_id)
    audits = count_rows(app, "audit_records")

    stale = problem(act(client, handler, consultation_id, "answer", 1, data={"answer": ANSWER}), 409)
    assert stale["type"] == "/problems/stale-version"
    assert stale["current_version"] == 2
    by_header = client.post(f"{URL}/{consultation_id}/actions", headers={**handler, "If-Match": '"1"'},
                            json={"action": "answer", "data": {"answer": ANSWER}})
    assert problem(by_header, 409)["current_version"] == 2

    assert stored(app, consultation_id) == before
    assert count_rows(app, "audit_records") == audits
    current = client.post(f"{URL}/{consultation_id}/actions", headers={**handler, "If-Match": '"2"'},
                          json={"action": "answer", "data": {"answer": ANSWER}})
    assert current.status_code == 200, current.get_json()
    missing = client.post(f"{URL}/{consultation_id}/actions", headers=handler,
                          json={"action": "send_back", "comment": "x"})
    assert "expected_version" in problem(missing, 422)["errors"]


@pytest.mark.parametrize(("action", "body", "field"), [
    ("claim", {"data": {"note": "x"}}, "data.note"),
    ("answer", {}, "data.answer"),
    ("answer", {"data": {"answer": "   "}}, "data.answer"),
    ("answer", {"data": {"answer": 42}}, "data.answer"),
    ("send_back", {}, "comment"),
    ("send_back", {"comment": "  "}, "comment"),
    ("publish", {"data": {"answer": PUBLIC_ANSWER}}, "data.question"),
    ("publish", {"data": {"question": PUBLIC_QUESTION}}, "data.answer"),
    ("publish", {"data": {"question": f"电话{PHONE}的居民问路灯", "answer": PUBLIC_ANSWER}}, "data.question"),
    ("publish", {"data": {"question": PUBLIC_QUESTION, "answer": "已联系 138 0013 8000 的居民"}}, "data.answer"),
    ("publish", {"data": {"question": f"身份证{ID_NUMBER}", "answer": PUBLIC_ANSWER}}, "data.question"),
    ("reopen", {}, "action"),
    ("answer", {"comment": "c" * 4001, "data": {"answer": ANSWER}}, "comment"),
    ("answer", {"data": "text"}, "data"),
    ("answer", {"expected_version": 0}, "expected_version"),
    ("answer", {"colour": "blue"}, "colour"),
])
def test_validation_errors_name_the_field(app: Flask, client: FlaskClient, login_as: Login,
                                          ask: Callable[..., str], action: str, body: dict[str, Any],
                                          field: str) -> None:
    consultation_id = ask()
    supervisor = login_as("service-center-supervisor")
    if action in ("answer", "send_back"):
        act(client, supervisor, consultation_id, "claim")
    elif action == "publish":
        act(client, supervisor, consultation_id, "claim")
        act(client, supervisor, consultation_id, "answer", data={"answer": ANSWER})
    before = stored(app, consultation_id)

    response = client.post(f"{URL}/{consultation_id}/actions", headers=supervisor,
                           json={"action": action, "expected_version": before["version"], **body})

    assert field in problem(response, 422)["errors"]
    assert stored(app, consultation_id) == before


def test_personal_data_is_refused_in_published_text(app: Flask, client: FlaskClient, login_as: Login,
                                                    ask: Callable[..., str]) -> None:
    consultation_id = ask()
    version = answered(client, login_as, consultation_id)

    response = act(client, login_as("publisher"), consultation_id, "publish", version,
                   data={"question": QUESTION, "answer": ANSWER})

    body = problem(response, 422)
    assert body["errors"] == {"data.question": ["Remove personal data (mobile or ID numbers) from the public text."]}
    assert PHONE not in response.get_data(as_text=True)
    assert stored(app, consultation_id)["status"] == "answered"
    assert client.get("/mp/v1/faq").get_json()["items"] == []


def test_who_may_do_what(app: Flask, client: FlaskClient, login_as: Login, ask: Callable[..., str]) -> None:
    consultation_id = ask()
    url = f"{URL}/{consultation_id}"
    outsider, outsider_boss = login_as("urban-handler"), login_as("urban-supervisor")
    for headers in (outsider, outsider_boss, login_as("admin"), login_as("reviewer")):
        problem(client.get(url, headers=headers), 404)
        problem(act(client, headers, consultation_id, "claim", 1), 403)
    publisher = login_as("publisher")
    assert client.get(url, headers=publisher).get_json()["allowed_actions"] == []
    problem(act(client, publisher, consultation_id, "claim", 1), 403)

    handler = login_as("service-center-handler")
    assert act(client, handler, consultation_id, "claim", 1).status_code == 200
    other = bearer(_other_handler(client, app))
    problem(act(client, other, consultation_id, "answer", 2, data={"answer": ANSWER}), 403)
    problem(act(client, other, consultation_id, "send_back", 2, comment="不是我的"), 403)
    problem(act(client, publisher, consultation_id, "send_back", 2, comment="还没答复"), 403)
    assert act(client, handler, consultation_id, "answer", 2, data={"answer": ANSWER}).status_code == 200
    problem(act(client, handler, consultation_id, "publish", 3, data={"question": PUBLIC_QUESTION,
                                                                      "answer": PUBLIC_ANSWER}), 403)
    problem(act(client, outsider_boss, consultation_id, "publish", 3, data={"question": PUBLIC_QUESTION,
                                                                            "answer": PUBLIC_ANSWER}), 403)
    assert stored(app, consultation_id)["status"] == "answered"
    problem(client.get(f"{URL}/no-such-id", headers=handler), 404)
    problem(act(client, handler, "no-such-id", "claim", 1), 404)


def _other_handler(client: FlaskClient, app: Flask) -> str:
    from service.accounts import operations
    from service.accounts.queries import department_directory
    from service.core.auth import SYSTEM
    from tests.conftest import DEMO_PASSWORD

    with app.app_context():
        operations.create_staff(SYSTEM, username="center-handler-2", password=DEMO_PASSWORD,
                                department_id=department_directory().id_of["service-center"], roles=["handler"])
        db.session.commit()
    response = client.post("/console/v1/auth/login", json={"username": "center-handler-2", "password": DEMO_PASSWORD})
    return str(response.get_json()["token"])


@pytest.mark.parametrize(("method", "path"), [("GET", URL), ("GET", URL + "/{id}"), ("POST", URL + "/{id}/actions")])
def test_anonymous_and_resident_tokens_are_401(app: Flask, client: FlaskClient, resident: dict[str, str],
                                               ask: Callable[..., str], method: str, path: str) -> None:
    consultation_id = ask()
    body = {"action": "claim", "expected_version": 1} if method == "POST" else None
    before = stored(app, consultation_id)

    for headers in ({}, resident):
        problem(client.open(path.replace("{id}", consultation_id), method=method, json=body, headers=headers), 401)

    assert stored(app, consultation_id) == before


# --- the queue -------------------------------------------------------------------------------------------------

def test_the_queue_is_my_departments_by_deadline(app: Flask, client: FlaskClient, login_as: Login,
                                                 ask: Callable[..., str]) -> None:
    ids = [ask(f"第{i}个问题") for i in range(3)]
    with app.app_context():  # make the last one the most urgent
        row = db.session.get(Consultation, ids[2])
        assert row is not None
        row.due_at = row.asked_at
        db.session.commit()
    handler = login_as("service-center-handler")
    act(client, handler, ids[0], "claim")

    everything = client.get(URL, headers=handler).get_json()
    assert [item["id"] for item in everything["items"]] == [ids[2], ids[0], ids[1]]
    assert everything["items"][0]["overdue"] is True
    page = client.get(URL, query_string={"limit": 2}, headers=handler).get_json()
    assert [item["id"] for item in page["items"]] == [ids[2], ids[0]]
    rest = client.get(URL, query_string={"limit": 2, "cursor": page["next_cursor"]}, headers=handler).get_json()
    assert ([item["id"] for item in rest["items"]], rest["next_cursor"]) == ([ids[1]], None)
    claimed = client.get(URL, query_string={"status": "claimed"}, headers=handler).get_json()
    assert [item["id"] for item in claimed["items"]] == [ids[0]]

    assert client.get(URL, headers=login_as("urban-handler")).get_json()["items"] == []
    assert len(client.get(URL, headers=login_as("publisher")).get_json()["items"]) == 3


@pytest.mark.parametrize(("query", "status", "field"), [
    ({"status": "done"}, 422, "status"),
    ({"limit": 0}, 422, "limit"),
    ({"cursor": "garbage"}, 400, "cursor"),
])
def test_queue_validation(client: FlaskClient, login_as: Login, query: dict[str, Any], status: int,
                          field: str) -> None:
    response = client.get(URL, query_string=query, headers=login_as("service-center-handler"))
    assert field in problem(response, status)["errors"]
