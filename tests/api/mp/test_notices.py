"""GET /mp/v1/notices: public, newest first, filtered by category, searchable in Chinese; and the public Q&A's
search, which is the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import marshmallow as ma
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.accounts.models import Department, Staff
from service.consultations import operations as consultation_operations
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.notices import operations
from tests.conftest import bearer

URL = "/mp/v1/notices"
PROBLEM = "application/problem+json"


@pytest.fixture
def actors(app: Flask, demo: Flask) -> dict[str, Actor]:
    with app.app_context():
        office = db.session.execute(sa.select(Department).where(Department.code == "gov-office")).scalar_one().id
        ids = {s.username: s.id for s in db.session.execute(sa.select(Staff)).scalars()}
    return {name: Actor(kind="staff", id=ids[name], department_id=office, roles=frozenset({name}))
            for name in ("publisher", "reviewer")}


@pytest.fixture
def publish(app: Flask, actors: dict[str, Actor]) -> Callable[..., str]:
    def publish(title: str, body: str = "正文", category: str = "announcement", ago: int = 0,
                status: str = "published") -> str:
        with app.app_context():
            at = utcnow() - timedelta(hours=ago)
            notice = operations.create(actors["publisher"], title, body, category, at=at)
            if status != "draft":
                operations.act(actors["publisher"], notice.id, "submit", None, {}, notice.version, at=at)
            if status == "published":
                operations.act(actors["reviewer"], notice.id, "approve", None, {}, notice.version, at=at)
            db.session.commit()
            return notice.id

    return publish


def test_public_list_newest_first_with_category_and_pages(client: FlaskClient, publish: Callable[..., str]) -> None:
    old = publish("关于2031年春节放假安排的通知", ago=3)
    policy = publish("关于促进民营经济发展的若干措施", "为优化营商环境……", category="policy", ago=2)
    new = publish("停水通知", "因管网改造，3月1日停水。", ago=1)
    publish("尚未审核的通知", status="in_review")
    publish("草稿", status="draft")

    first = client.get(URL, query_string={"limit": 2}).get_json()
    second = client.get(URL, query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()

    assert [i["id"] for i in first["items"] + second["items"]] == [new, policy, old]
    assert second["next_cursor"] is None
    item = first["items"][0]
    assert (item["status"], item["category_name"], item["snippet"], item["highlighted_title"]) == (
        "published", "通知公告", "因管网改造，3月1日停水。", "停水通知")
    assert item["published_at"].endswith("+08:00")
    assert "body" not in item
    assert "history" not in item
    only_policy = client.get(URL, query_string={"category": "policy"}).get_json()["items"]
    assert [i["id"] for i in only_policy] == [policy]


def test_search_says_when_nothing_is_found(client: FlaskClient, publish: Callable[..., str]) -> None:
    lamp = publish("城区路灯维修计划", "小区路灯不亮可拨打12319。")

    found = client.get(URL, query_string={"q": "路灯"}).get_json()
    assert [i["id"] for i in found["items"]] == [lamp]
    assert found["words"] == ["路灯"]
    assert found["message"] is None
    assert found["items"][0]["snippet"] == "小区<mark>路灯</mark>不亮可拨打12319。"
    nothing = client.get(URL, query_string={"q": "量子计算"}).get_json()
    assert nothing["items"] == []
    assert nothing["next_cursor"] is None
    assert nothing["message"] == "没有找到与“量子计算”相关的公告，请换个说法或减少关键词再试。"


@pytest.mark.parametrize(("query", "status", "field"), [
    ({"q": ""}, 422, "q"),
    ({"q": "路" * 101}, 422, "q"),
    ({"category": "gossip"}, 422, "category"),
    ({"limit": 0}, 422, "limit"),
    ({"cursor": "bogus"}, 400, "cursor"),
    ({"q": "路灯", "cursor": "bogus"}, 400, "cursor"),
])
def test_validation(client: FlaskClient, demo: Flask, query: dict[str, Any], status: int, field: str) -> None:
    response = client.get(URL, query_string=query)
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"]


def test_not_yet_public_is_404_for_everyone(client: FlaskClient, publish: Callable[..., str],
                                           resident_token: Callable[[str], str]) -> None:
    pending = publish("审核中的通知", status="in_review")

    assert client.get(f"{URL}/{pending}").status_code == 404
    assert client.get(f"{URL}/{pending}", headers=bearer(resident_token("alice"))).status_code == 404


def test_faq_search_finds_two_character_words(app: Flask, client: FlaskClient, demo: Flask,
                                             resident_token: Callable[[str], str]) -> None:
    resident_token("alice")
    with app.app_context():
        from service.accounts.models import Resident

        resident = Actor(kind="resident", id=db.session.execute(
            sa.select(Resident.id).where(Resident.openid == "o-alice")).scalar_one())
        center = db.session.execute(sa.select(Department).where(Department.code == "service-center")).scalar_one()
        supervisor = db.session.execute(sa.select(Staff.id).where(Staff.username == "service-center-supervisor")
                                        ).scalar_one()
        handler = Actor(kind="staff", id=supervisor, department_id=center.id, roles=frozenset({"supervisor"}))
        published = []
        for question, answer in [("小区路灯不亮找谁？", "请拨打12319城管热线报修。"),
                                 ("楼下广场舞噪音太大怎么办？", "可向街道综合执法队反映，夜间施工噪音请拨12345。"),
                                 ("如何办理居住证？", "携带身份证到派出所办理。")]:
            asked = consultation_operations.ask(resident, question, None, [])
            consultation_operations.act(handler, asked.id, "claim", None, {}, asked.version)
            consultation_operations.act(handler, asked.id, "answer", None, {"answer": answer}, asked.version)
            consultation_operations.act(handler, asked.id, "publish", None,
                                        {"question": question, "answer": answer}, asked.version)
            published.append(asked.id)
        db.session.commit()

    def faq(q: str) -> dict[str, Any]:
        return dict(client.get("/mp/v1/faq", query_string={"q": q}).get_json())

    assert [i["id"] for i in faq("路灯")["items"]] == [published[0]]
    noise = faq("噪音")
    assert [i["id"] for i in noise["items"]] == [published[1]]
    assert noise["items"][0]["snippet"].count("<mark>噪音</mark>") == 1
    assert noise["items"][0]["highlighted_question"] == "楼下广场舞<mark>噪音</mark>太大怎么办？"
    assert faq("居住证办理")["items"][0]["id"] == published[2]
    assert faq("不动产")["message"].startswith("没有找到")


def test_control_characters_are_refused_in_what_the_public_qa_is_made_of(
        app: Flask, client: FlaskClient, demo: Flask, resident_token: Callable[[str], str]) -> None:
    resident = bearer(resident_token("alice"))
    for char in ("\x00", "\x0b"):
        refused = client.post("/mp/v1/consultations", json={"question": f"路灯{char}不亮找谁？"}, headers=resident)
        assert refused.status_code == 422, refused.get_json()
        assert "question" in refused.get_json()["errors"]
    asked = client.post("/mp/v1/consultations", json={"question": "路灯不亮找谁？\n谢谢"}, headers=resident)
    assert asked.status_code == 201, asked.get_json()

    with app.app_context():
        from service.consultations.schemas import AnswerDataSchema, PublishDataSchema

        for schema, data in [(AnswerDataSchema(), {"answer": "请拨打\x0012319。"}),
                             (PublishDataSchema(), {"question": "路灯\x1f不亮", "answer": "请拨打12319。"}),
                             (PublishDataSchema(), {"question": "路灯不亮", "answer": "请拨打\x0b12319。"})]:
            with pytest.raises(ma.ValidationError) as invalid:
                schema.load(data)
            assert set(invalid.value.normalized_messages()) <= {"question", "answer"}


def test_accents_are_found_alike_on_every_database(client: FlaskClient, publish: Callable[..., str]) -> None:
    cafe = publish("社区Café开业", "Crème brûlée 与咖啡")

    for q in ("cafe", "café", "CAFÉ", "creme brulee"):
        found = client.get(URL, query_string={"q": q}).get_json()
        assert [i["id"] for i in found["items"]] == [cafe], q
    assert client.get(URL, query_string={"q": "cafe"}).get_json()["items"][0]["highlighted_title"] == \
        "社区<mark>Café</mark>开业"
