"""Cursor pagination of GET /console/v1/departments: complete, ordered, capped, and strict about its input."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.accounts import operations
from service.core.auth import SYSTEM
from service.core.db import db
from tests.conftest import bearer, problem

PROBLEM = "application/problem+json"
URL = "/console/v1/departments"


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.fixture
def handler(staff_token: Callable[..., str]) -> dict[str, str]:
    return bearer(staff_token("list-reader"))


@pytest.fixture
def many(app: Flask, departments: dict[str, str]) -> dict[str, str]:
    """25 more departments (codes deliberately not created in sorted order): code -> id, all of them."""
    codes = [f"dept-{(i * 7) % 25:02d}" for i in range(25)]
    result = dict(departments)
    with app.app_context():
        for code in codes:
            result[code] = operations.create_department(SYSTEM, code, f"部门 {code}", departments["district"]).id
        db.session.commit()
    return result


def _walk(client: FlaskClient, headers: dict[str, str], limit: int) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get(URL, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert set(page) == {"items", "next_cursor"}
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not terminate"


def test_walking_the_pages_yields_every_department_once_in_order(client: FlaskClient, handler: dict[str, str],
                                                                 many: dict[str, str]) -> None:
    pages = _walk(client, handler, 7)

    sizes = [len(page["items"]) for page in pages]
    assert sizes == [7, 7, 7, 7]  # 28 departments
    items = [item for page in pages for item in page["items"]]
    assert [item["code"] for item in items] == sorted(many)
    assert {item["id"] for item in items} == set(many.values())
    assert [page["next_cursor"] is None for page in pages] == [False, False, False, True]


def test_an_item_added_behind_the_cursor_is_not_repeated(app: Flask, client: FlaskClient,
                                                         handler: dict[str, str], many: dict[str, str]) -> None:
    first = client.get(URL, query_string={"limit": 10}, headers=handler).get_json()
    with app.app_context():  # sorts before everything already seen
        operations.create_department(SYSTEM, "aaa-new", "新部门", None)
        db.session.commit()

    rest = client.get(URL, query_string={"limit": 100, "cursor": first["next_cursor"]}, headers=handler).get_json()

    seen = [item["code"] for item in first["items"] + rest["items"]]
    assert len(seen) == len(set(seen)) == len(many)
    assert "aaa-new" not in seen


def test_default_and_capped_page_sizes(app: Flask, client: FlaskClient, handler: dict[str, str],
                                       many: dict[str, str]) -> None:
    app.config.update(PAGE_SIZE_DEFAULT=5, PAGE_SIZE_MAX=9)

    default = client.get(URL, headers=handler).get_json()
    capped = client.get(URL, query_string={"limit": 1000}, headers=handler).get_json()

    assert len(default["items"]) == 5
    assert len(capped["items"]) == 9
    assert capped["next_cursor"] is not None


def test_small_list_fits_one_page_with_null_cursor(client: FlaskClient, handler: dict[str, str],
                                                   departments: dict[str, str]) -> None:
    page = client.get(URL, query_string={"limit": 3}, headers=handler).get_json()

    assert [item["code"] for item in page["items"]] == sorted(departments)
    assert page["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5"])
def test_bad_limit_is_422(client: FlaskClient, handler: dict[str, str], limit: str) -> None:
    body = problem(client.get(URL, query_string={"limit": limit}, headers=handler), 422)

    assert "limit" in body["errors"]


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("!!!not-base64!!!", id="not-base64"),
        pytest.param("abc", id="not-json"),
        pytest.param(_cursor({"code": "x"}), id="not-a-list"),
        pytest.param(_cursor(["a", "b"]), id="wrong-width"),
        pytest.param(_cursor([{"t": "not a time"}]), id="bad-time"),
        pytest.param(_cursor([{"a": 1}]), id="object-as-key"),
        pytest.param(_cursor([["nested"]]), id="list-as-key"),
    ],
)
def test_malformed_cursor_is_400(client: FlaskClient, handler: dict[str, str], departments: dict[str, str],
                                 cursor: str) -> None:
    body = problem(client.get(URL, query_string={"cursor": cursor}, headers=handler), 400)

    assert "cursor" in body["errors"]
