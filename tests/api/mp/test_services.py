"""GET /mp/v1/services, /mp/v1/services/{id} and /mp/v1/service-categories: the public catalog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from flask import Flask
from flask.testing import FlaskClient

from service.catalog import operations as catalog_operations
from service.catalog.forms import validate_submission
from service.catalog.models import Service
from service.core.auth import SYSTEM
from service.core.db import db
from tests.conftest import bearer, problem

PROBLEM = "application/problem+json"
BUILTIN = yaml.safe_load((Path(__file__).parents[3] / "service" / "catalog" / "builtin.yaml")
                         .read_text(encoding="utf-8"))
BUILTIN_CODES = sorted(entry["code"] for entry in BUILTIN)
ITEM_FIELDS = {"id", "code", "name", "category", "description", "time_limit_working_days", "form", "materials"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def service_id(app: Flask, code: str) -> str:
    with app.app_context():
        return str(db.session.execute(sa.select(Service.id).where(Service.code == code)).scalar_one())


def add_service(app: Flask, code: str, name: str, category: str = "other", process_code: str = "repair",
                active: bool = True) -> str:
    with app.app_context():
        service = catalog_operations.create_service(SYSTEM, code=code, name=name, category=category,
                                                    process_code=process_code, time_limit_working_days=5)
        service.active = active
        db.session.commit()
        return service.id


# --- the list -----------------------------------------------------------------------------------------------


def test_the_catalog_is_public_and_ordered_by_code(client: FlaskClient, demo: Flask) -> None:
    page = ok(client.get("/mp/v1/services"))

    assert set(page) == {"items", "next_cursor"}
    assert page["next_cursor"] is None
    assert [item["code"] for item in page["items"]] == BUILTIN_CODES
    for item in page["items"]:
        assert set(item) == ITEM_FIELDS
        entry = next(e for e in BUILTIN if e["code"] == item["code"])
        assert item["form"] == entry["form"]
        assert item["materials"] == entry["materials"]
        assert item["time_limit_working_days"] == entry["time_limit_working_days"]


def test_any_token_or_none_sees_the_same_catalog(client: FlaskClient, demo: Flask, login_as: Callable[..., Any],
                                                 resident_token: Callable[[str], str]) -> None:
    anonymous = ok(client.get("/mp/v1/services"))

    assert ok(client.get("/mp/v1/services", headers=bearer(resident_token("alice")))) == anonymous
    assert ok(client.get("/mp/v1/services", headers=login_as("admin"))) == anonymous
    assert ok(client.get("/mp/v1/services", headers=bearer("not-a-token"))) == anonymous


def test_walking_the_pages(client: FlaskClient, demo: Flask) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = ok(client.get("/mp/v1/services", query_string=query))
        assert len(page["items"]) <= 2
        seen += [item["code"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == BUILTIN_CODES


def test_filter_by_category(app: Flask, client: FlaskClient, demo: Flask) -> None:
    add_service(app, "dog-licence", "Dog Licence 犬只登记", category="repair")

    repair = ok(client.get("/mp/v1/services", query_string={"category": "repair"}))
    nothing = ok(client.get("/mp/v1/services", query_string={"category": "no-such-category"}))
    everything = ok(client.get("/mp/v1/services", query_string={"category": ""}))

    assert [item["code"] for item in repair["items"]] == ["dog-licence", "repair"]
    assert nothing == {"items": [], "next_cursor": None}
    assert len(everything["items"]) == len(BUILTIN_CODES) + 1


@pytest.mark.parametrize(("q", "codes"), [
    ("报修", ["repair"]),
    ("许可", ["permit"]),
    ("dog", ["dog-licence"]),  # case-insensitive
    ("LICENCE", ["dog-licence"]),
    ("%", []),  # LIKE wildcards are taken literally
    ("_", ["under_score"]),
    ("申请", ["disclosure"]),
    ("没有这个事项", []),
])
def test_search_by_name(app: Flask, client: FlaskClient, demo: Flask, q: str, codes: list[str]) -> None:
    add_service(app, "dog-licence", "Dog Licence 犬只登记")
    add_service(app, "under-score", "名称_带下划线")
    with app.app_context():
        db.session.execute(sa.update(Service).where(Service.code == "under-score").values(code="under_score"))
        db.session.commit()

    page = ok(client.get("/mp/v1/services", query_string={"q": q}))

    assert [item["code"] for item in page["items"]] == codes


def test_search_and_category_combine(app: Flask, client: FlaskClient, demo: Flask) -> None:
    add_service(app, "repair-2", "路灯报修", category="other")

    page = ok(client.get("/mp/v1/services", query_string={"q": "报修", "category": "repair"}))

    assert [item["code"] for item in page["items"]] == ["repair"]


def test_inactive_services_are_not_offered(app: Flask, client: FlaskClient, demo: Flask) -> None:
    hidden = add_service(app, "retired", "已停办事项", active=False)

    codes = [item["code"] for item in ok(client.get("/mp/v1/services", query_string={"limit": 100}))["items"]]

    assert "retired" not in codes
    problem(client.get(f"/mp/v1/services/{hidden}"), 404)


@pytest.mark.parametrize(("query", "status"), [
    ({"limit": 0}, 422),
    ({"limit": "many"}, 422),
    ({"q": "长" * 101}, 422),
    ({"category": "c" * 65}, 422),
    ({"cursor": "not-a-cursor"}, 400),
    ({"cursor": "WzFd"}, 400),  # a valid encoding of the wrong shape: [1]
])
def test_bad_list_parameters(client: FlaskClient, demo: Flask, query: dict[str, Any], status: int) -> None:
    problem(client.get("/mp/v1/services", query_string=query), status)


def test_the_limit_is_capped(app: Flask, client: FlaskClient, demo: Flask) -> None:
    app.config["PAGE_SIZE_MAX"] = 3

    page = ok(client.get("/mp/v1/services", query_string={"limit": 100}))

    assert len(page["items"]) == 3
    assert page["next_cursor"] is not None


# --- one service --------------------------------------------------------------------------------------------


def test_a_service_with_its_process_overview(app: Flask, client: FlaskClient, demo: Flask) -> None:
    body = ok(client.get(f"/mp/v1/services/{service_id(app, 'repair')}"))

    entry = next(e for e in BUILTIN if e["code"] == "repair")
    assert set(body) == ITEM_FIELDS | {"process"}
    assert body["code"] == "repair"
    assert body["name"] == entry["name"]
    assert body["category"] == "repair"
    assert body["time_limit_working_days"] == 3
    assert body["form"] == entry["form"]
    assert body["materials"] == entry["materials"]
    assert body["process"] == {
        "code": "repair", "version": 1, "name": "报修", "initial_step": "acceptance",
        "steps": [
            {"key": "acceptance", "name": "已提交，等待受理", "kind": "task", "time_limit_working_days": 1},
            {"key": "repair", "name": "正在维修", "kind": "task", "time_limit_working_days": 2},
        ],
        "outcomes": [
            {"key": "completed", "name": "已修复", "outcome": "completed"},
            {"key": "rejected", "name": "不予受理", "outcome": "rejected"},
            {"key": "withdrawn", "name": "已撤回", "outcome": "withdrawn"},
        ],
    }


def test_resident_steps_are_part_of_the_overview(app: Flask, client: FlaskClient, demo: Flask) -> None:
    process = ok(client.get(f"/mp/v1/services/{service_id(app, 'disclosure')}"))["process"]

    assert [(s["key"], s["kind"]) for s in process["steps"]] == [
        ("registration", "task"), ("supplement", "resident"), ("handling", "task"), ("third_party_opinion", "task")]
    assert process["steps"][1]["name"] == "请补正申请内容"
    assert [o["key"] for o in process["outcomes"]] == ["replied", "rejected", "withdrawn"]
    # Only public names: the internal step names are not shown to residents.
    assert all(step["name"] != "登记" for step in process["steps"])


def test_the_overview_follows_the_active_version(app: Flask, client: FlaskClient, demo: Flask) -> None:
    from service.processes import operations as process_operations
    from service.processes.builtin import builtin_definition_data

    definition = builtin_definition_data("repair")
    definition["steps"][1]["public_name"] = "维修中"
    with app.app_context():
        process_operations.upload(SYSTEM, definition, activate=True)
        db.session.commit()

    process = ok(client.get(f"/mp/v1/services/{service_id(app, 'repair')}"))["process"]

    assert process["version"] == 2
    assert process["steps"][1]["name"] == "维修中"


def test_a_service_without_an_active_process_has_no_overview(app: Flask, client: FlaskClient, demo: Flask) -> None:
    from service.processes import operations as process_operations
    from service.processes.builtin import builtin_definition_data

    with app.app_context():  # a process uploaded but never activated
        process_operations.upload(SYSTEM, {**builtin_definition_data("repair"), "code": "draft-process"})
        db.session.commit()
    orphan = add_service(app, "orphan", "没有流程的事项", process_code="draft-process")

    assert ok(client.get(f"/mp/v1/services/{orphan}"))["process"] is None


def test_unknown_service_is_404(client: FlaskClient, demo: Flask) -> None:
    problem(client.get("/mp/v1/services/01jzzzzzzzzzzzzzzzzzzzzzzz"), 404)
    problem(client.get("/mp/v1/services/repair"), 404)  # by id, not by code


def test_the_served_form_validates_submissions(app: Flask, client: FlaskClient, demo: Flask) -> None:
    """The definition the mini program draws is the one the server checks against."""
    form = ok(client.get(f"/mp/v1/services/{service_id(app, 'permit')}"))["form"]

    cleaned, errors = validate_submission(form, {
        "enterprise_name": "示范区某某餐饮有限公司", "uscc": "91350100m000100y43", "legal_representative": "张三",
        "address": {"text": "人民路 1 号", "lat": 31.2, "lng": 121.5}, "business_types": ["catering"]})
    assert errors == {}
    assert cleaned["uscc"] == "91350100M000100Y43"
    assert set(validate_submission(form, {"uscc": "91350100M000100Y44"})[1]) == {
        "form.enterprise_name", "form.uscc", "form.legal_representative", "form.address", "form.business_types"}


# --- categories ---------------------------------------------------------------------------------------------


def test_categories_with_counts(app: Flask, client: FlaskClient, demo: Flask) -> None:
    add_service(app, "repair-2", "路灯报修", category="repair")
    add_service(app, "retired", "已停办", category="retired", active=False)

    body = ok(client.get("/mp/v1/service-categories"))

    assert body["next_cursor"] is None
    counts = {item["category"]: item["count"] for item in body["items"]}
    assert counts == {entry["category"]: 1 for entry in BUILTIN} | {"repair": 2}
    assert [item["category"] for item in body["items"]] == sorted(counts)


def test_an_empty_catalog(client: FlaskClient) -> None:
    assert ok(client.get("/mp/v1/services")) == {"items": [], "next_cursor": None}
    assert ok(client.get("/mp/v1/service-categories")) == {"items": [], "next_cursor": None}


# --- the OpenAPI document -----------------------------------------------------------------------------------


def test_documented_as_public_with_their_schemas(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]

    for path in ("/mp/v1/services", "/mp/v1/services/{service_id}", "/mp/v1/service-categories"):
        assert "security" not in paths[path]["get"], path
    detail = spec["components"]["schemas"]["ServiceDetail"]
    assert {"id", "code", "name", "category", "form", "materials", "time_limit_working_days",
            "process"} <= set(detail["properties"])
    field_type = spec["components"]["schemas"]["FormField"]["properties"]["type"]
    assert set(field_type["enum"]) == {"text", "textarea", "number", "date", "phone", "email", "id_number", "uscc",
                                       "choice", "multi_choice", "address"}
    assert "steps" in spec["components"]["schemas"]["ProcessOverview"]["properties"]
    assert "404" in paths["/mp/v1/services/{service_id}"]["get"]["responses"]
    query = {p["name"] for p in paths["/mp/v1/services"]["get"]["parameters"] if p["in"] == "query"}
    assert query == {"cursor", "limit", "category", "q"}
