"""The resident's own profile: ETag and versions, validated identity numbers, and nobody else's data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from stdnum.cn import ric, uscc

from service.accounts.models import Resident
from service.core.db import db
from tests.conftest import bearer, count_rows, problem

PROBLEM = "application/problem+json"
VALID_USCC = "91110000600037341L"
VALID_ID = "11010519491231002X"


def _stored(app: Flask, resident_id: str) -> dict[str, Any]:
    with app.app_context():
        row = db.session.get(Resident, resident_id)
        assert row is not None
        return {k: getattr(row, k) for k in ("name", "phone", "id_number", "nickname", "enterprise_name",
                                             "enterprise_uscc", "version")}


@pytest.fixture
def me(client: FlaskClient, resident_token: Callable[[str], str]) -> dict[str, Any]:
    headers = bearer(resident_token("alice"))
    response = client.get("/mp/v1/me", headers=headers)
    return {"headers": headers, "profile": response.get_json()}


def test_the_numbers_used_here_are_valid() -> None:
    assert uscc.is_valid(VALID_USCC)
    assert ric.is_valid(VALID_ID)
    assert not uscc.is_valid(VALID_USCC[:-1] + "M")
    assert not ric.is_valid(VALID_ID[:-1] + "1")


def test_get_me_carries_version_and_matching_etag(client: FlaskClient, me: dict[str, Any]) -> None:
    response = client.get("/mp/v1/me", headers=me["headers"])

    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] >= 1
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["enterprise"] is None


def test_patch_me_with_enterprise_and_id_number(app: Flask, client: FlaskClient, me: dict[str, Any]) -> None:
    version = me["profile"]["version"]

    response = client.patch("/mp/v1/me", headers=me["headers"], json={
        "name": "张三", "phone": "13800138000", "id_number": VALID_ID.lower(),
        "enterprise": {"name": "示范科技有限公司", "uscc": f" {VALID_USCC.lower()} "},
        "expected_version": version,
    })

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["version"] == version + 1
    assert response.headers["ETag"] == f'"{version + 1}"'
    assert body["name"] == "张三"
    assert body["phone"] == "13800138000"
    assert body["id_number"] == VALID_ID  # normalised to upper case
    assert body["enterprise"] == {"name": "示范科技有限公司", "uscc": VALID_USCC}
    stored = _stored(app, me["profile"]["id"])
    assert stored["id_number"] == VALID_ID
    assert stored["enterprise_uscc"] == VALID_USCC
    assert stored["version"] == version + 1
    assert client.get("/mp/v1/me", headers=me["headers"]).get_json() == body
    assert count_rows(app, "audit_records", action="resident.updated", object_id=me["profile"]["id"]) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"enterprise": {"name": "示范科技有限公司", "uscc": VALID_USCC[:-1] + "M"}}, "enterprise.uscc"),
        ({"enterprise": {"name": "示范科技有限公司", "uscc": "123"}}, "enterprise.uscc"),
        ({"enterprise": {"uscc": VALID_USCC}}, "enterprise.name"),
        ({"id_number": VALID_ID[:-1] + "1"}, "id_number"),
        ({"id_number": "110105194913310028"}, "id_number"),  # no 13th month
        ({"phone": "12345"}, "phone"),
        ({"phone": "1380013800a"}, "phone"),
    ],
)
def test_invalid_identity_data_is_422_naming_the_field(app: Flask, client: FlaskClient, me: dict[str, Any],
                                                        changes: dict[str, Any], field: str) -> None:
    before = _stored(app, me["profile"]["id"])

    body = problem(client.patch("/mp/v1/me", headers=me["headers"], json=changes), 422)

    assert field in body["errors"]
    assert _stored(app, me["profile"]["id"]) == before


def test_stale_expected_version_is_409_and_changes_nothing(app: Flask, client: FlaskClient,
                                                           me: dict[str, Any]) -> None:
    version = me["profile"]["version"]
    assert client.patch("/mp/v1/me", headers=me["headers"],
                        json={"name": "李四", "expected_version": version}).status_code == 200
    stored = _stored(app, me["profile"]["id"])
    audits = count_rows(app, "audit_records", action="resident.updated")

    body = problem(client.patch("/mp/v1/me", headers=me["headers"],
                                json={"name": "王五", "phone": "13900139000", "expected_version": version}), 409)

    assert body["type"].endswith("stale-version")
    assert _stored(app, me["profile"]["id"]) == stored
    assert stored["name"] == "李四"
    assert stored["phone"] is None
    assert count_rows(app, "audit_records", action="resident.updated") == audits


def test_if_match_works_like_expected_version(app: Flask, client: FlaskClient, me: dict[str, Any]) -> None:
    etag = client.get("/mp/v1/me", headers=me["headers"]).headers["ETag"]

    ok = client.patch("/mp/v1/me", headers={**me["headers"], "If-Match": etag}, json={"nickname": "小王"})
    assert ok.status_code == 200
    assert ok.headers["ETag"] != etag

    stale = client.patch("/mp/v1/me", headers={**me["headers"], "If-Match": etag}, json={"nickname": "老王"})
    problem(stale, 409)
    assert _stored(app, me["profile"]["id"])["nickname"] == "小王"

    fresh = client.patch("/mp/v1/me", headers={**me["headers"], "If-Match": ok.headers["ETag"]},
                         json={"nickname": "老王"})
    assert fresh.status_code == 200
    assert fresh.get_json()["nickname"] == "老王"


def test_malformed_if_match_is_400(app: Flask, client: FlaskClient, me: dict[str, Any]) -> None:
    problem(client.patch("/mp/v1/me", headers={**me["headers"], "If-Match": "version one"},
                         json={"nickname": "x"}), 400)
    assert _stored(app, me["profile"]["id"])["nickname"] is None


def test_residents_never_see_each_other(app: Flask, client: FlaskClient, me: dict[str, Any],
                                        resident_token: Callable[[str], str]) -> None:
    assert client.patch("/mp/v1/me", headers=me["headers"], json={
        "name": "张三", "phone": "13800138000", "id_number": VALID_ID,
        "enterprise": {"name": "示范科技有限公司", "uscc": VALID_USCC},
    }).status_code == 200
    bob = bearer(resident_token("bob"))

    seen = client.get("/mp/v1/me", headers=bob)

    text = seen.get_data(as_text=True)
    assert seen.get_json()["id"] != me["profile"]["id"]
    for secret in ("张三", "13800138000", VALID_ID, VALID_USCC, "示范科技有限公司"):
        assert secret not in text
    # Bob's edits touch Bob only, even with the version Alice's profile is at.
    alice_before = _stored(app, me["profile"]["id"])
    changed = client.patch("/mp/v1/me", headers=bob, json={"name": "鲍勃", "expected_version": 1})
    assert changed.status_code == 200
    assert changed.get_json()["id"] == seen.get_json()["id"]
    assert _stored(app, me["profile"]["id"]) == alice_before


def test_resending_unchanged_data_changes_nothing(app: Flask, client: FlaskClient, me: dict[str, Any]) -> None:
    profile = {"name": "张三", "enterprise": {"name": "示范科技有限公司", "uscc": VALID_USCC}}
    first = client.patch("/mp/v1/me", headers=me["headers"], json=profile)
    assert first.status_code == 200
    audits = count_rows(app, "audit_records", action="resident.updated")

    again = client.patch("/mp/v1/me", headers=me["headers"], json=profile)

    # Nothing changed, so the version (and ETag) stays and no change is recorded: a client that sends
    # the whole form back must not make other clients' versions stale.
    assert again.status_code == 200
    assert again.get_json()["version"] == first.get_json()["version"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert count_rows(app, "audit_records", action="resident.updated") == audits
