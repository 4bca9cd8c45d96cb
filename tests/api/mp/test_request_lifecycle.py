"""A resident and staff play requests end to end through both APIs: a disclosure request whose supplement
restarts the clock, and a permit reviewed by two departments together; the resident's timeline is the public
part of the events."""

from __future__ import annotations

import io
import struct
import time
import zlib
from typing import Any

import sqlalchemy as sa

from service.accounts.queries import DepartmentDirectory, department_directory
from service.core.db import db
from service.processes.models import ProcessVersion
from service.requests.models import Request, RequestEvent
from tests.conftest import bearer, count_rows

VALID_USCC = "91110108MA01ABCD2H"


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + \
        chunk(b"IEND", b"")


def upload(client, headers, name="identity.png") -> str:
    response = client.post("/mp/v1/attachments", headers=headers,
                           data={"file": (io.BytesIO(png()), name)}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def service_id(client, code: str) -> str:
    items = client.get("/mp/v1/services?limit=100").get_json()["items"]
    return next(s["id"] for s in items if s["code"] == code)


def staff_act(client, headers, request_id, action, **body: Any) -> dict[str, Any]:
    version = client.get(f"/console/v1/requests/{request_id}", headers=headers).get_json()["version"]
    response = client.post(f"/console/v1/requests/{request_id}/actions", headers=headers,
                           json={"action": action, "expected_version": version, **body})
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def public_events(app, request_id: str) -> list[tuple[str, str | None, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(RequestEvent).where(RequestEvent.request_id == request_id,
                                                                RequestEvent.public)
                                  .order_by(RequestEvent.seq)).scalars()
        return [(row.action, row.from_step, row.to_step) for row in rows]


def test_disclosure_with_a_supplement_that_restarts_the_clock(app, client, login_as, resident_token):
    alice = bearer(resident_token("alice"))
    body = {
        "service_id": service_id(client, "disclosure"),
        "form": {"applicant_name": "张三", "phone": "13800138000", "description": "2025年区财政预算执行情况",
                 "delivery": "email"},
        "materials": {"identity": [upload(client, alice)]},
    }
    headers = {**alice, "Idempotency-Key": "disclosure-1"}
    created = client.post("/mp/v1/requests", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    retried = client.post("/mp/v1/requests", json=body, headers=headers)
    assert retried.status_code == 201
    assert retried.get_json() == created.get_json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert count_rows(app, "requests") == 1
    request = created.get_json()
    assert (request["status"], request["current_step"]) == ("submitted", "registration")
    request_id = request["id"]

    handler = login_as("gov-office-handler")
    staff_act(client, handler, request_id, "request_materials", data={"items": ["请写明所需信息的文号"]})
    mine = client.get(f"/mp/v1/requests/{request_id}", headers=alice).get_json()
    assert mine["status"] == "awaiting_supplement"
    assert mine["asked"] == ["请写明所需信息的文号"]
    assert mine["paused"] is True
    assert mine["allowed_actions"] == ["supplement", "withdraw"]

    stale = client.post(f"/mp/v1/requests/{request_id}/supplements", headers=alice,
                        json={"answers": {"document_number": "示财〔2025〕1号"}, "expected_version": 1})
    assert stale.status_code == 409
    supplied = client.post(f"/mp/v1/requests/{request_id}/supplements", headers=alice,
                           json={"answers": {"document_number": "示财〔2025〕1号"},
                                 "expected_version": mine["version"]})
    assert supplied.status_code == 200, supplied.get_json()
    assert supplied.get_json()["status"] == "in_progress"
    assert supplied.get_json()["paused"] is False
    staff_view = client.get(f"/console/v1/requests/{request_id}", headers=handler).get_json()
    assert len(staff_view["clock"]["restarts"]) == 1  # the disclosure rule: the limit counts again in full

    staff_act(client, handler, request_id, "accept")
    done = staff_act(client, handler, request_id, "reply", data={"outcome": "public", "answer": "见附件"})
    assert done["status"] == "completed"

    final = client.get(f"/mp/v1/requests/{request_id}", headers=alice).get_json()
    assert [(e["action"], e["from_step"], e["to_step"]) for e in final["timeline"]] == public_events(app, request_id)
    assert [e["action"] for e in final["timeline"]] == ["submit", "request_materials", "supplement", "accept",
                                                         "reply"]
    assert "actor_id" not in final["timeline"][1]

    rated = client.post(f"/mp/v1/requests/{request_id}/rating", headers=alice,
                        json={"level": 2, "comment": "答复太慢", "tags": ["slow"]})
    assert rated.status_code == 201, rated.get_json()
    assert rated.get_json()["follow_up"]["status"] == "open"
    again = client.post(f"/mp/v1/requests/{request_id}/rating", headers=alice, json={"level": 5})
    assert again.status_code == 409


def test_permit_with_a_countersign(app, client, login_as, resident_token):
    bob = bearer(resident_token("bob"))
    body = {
        "service_id": service_id(client, "permit"),
        "form": {"enterprise_name": "示范餐饮有限公司", "uscc": VALID_USCC, "legal_representative": "李四",
                 "address": "示范区人民路1号", "business_types": ["catering"]},
        "materials": {"licence": [upload(client, bob, "licence.png")],
                      "floor_plan": [upload(client, bob, "plan.png")]},
    }
    created = client.post("/mp/v1/requests", json=body, headers={**bob, "Idempotency-Key": "permit-1"})
    assert created.status_code == 201, created.get_json()
    request_id = created.get_json()["id"]

    staff_act(client, login_as("service-center-handler"), request_id, "accept")
    staff_act(client, login_as("market-handler"), request_id, "countersign", data={"decision": "agree"})
    review = client.get(f"/mp/v1/requests/{request_id}", headers=bob).get_json()
    assert review["current_step"] == "review"
    staff_act(client, login_as("environment-handler"), request_id, "countersign", data={"decision": "agree"})
    done = staff_act(client, login_as("market-supervisor"), request_id, "approve")
    assert done["status"] == "completed"

    final = client.get(f"/mp/v1/requests/{request_id}", headers=bob).get_json()
    assert [e["action"] for e in final["timeline"]] == ["submit", "accept", "countersign", "countersign", "approve"]

    licence = body["materials"]["licence"][0]
    url = f"/console/v1/requests/{request_id}/materials/{licence}"
    downloaded = client.get(url, headers=login_as("market-handler"))
    assert downloaded.status_code == 200
    assert downloaded.data == png()
    assert downloaded.mimetype == "image/png"
    assert "attachment" in downloaded.headers["Content-Disposition"]
    downloaded.close()  # the file is streamed from storage; closing the response closes it
    assert client.get(url, headers=login_as("housing-handler")).status_code == 404
    assert client.get(url, headers=bob).status_code == 401
    other = upload(client, bob, "unrelated.png")
    assert client.get(f"/console/v1/requests/{request_id}/materials/{other}",
                      headers=login_as("market-handler")).status_code == 404
    assert [(e["action"], e["from_step"], e["to_step"]) for e in final["timeline"]] == public_events(app, request_id)


def test_an_action_reads_nothing_while_its_writes_are_in_flight(app, client, login_as, submit_request):
    """On PostgreSQL an action's writes go out in psycopg's pipeline mode, where no query can be read back: the
    department directory (refreshed every ``DIRECTORY_REFRESH_SECONDS``) must not be read then."""
    app.config["DIRECTORY_REFRESH_SECONDS"] = 0  # every lookup reads the departments afresh
    request_id = submit_request("permit", "bob")
    staff_act(client, login_as("service-center-handler"), request_id, "accept")  # on to the countersign
    assert count_rows(app, "outbox_messages", event="countersign_waiting") == 2


def test_an_action_reads_the_departments_again_when_its_directory_lacks_one(app, client, login_as,
                                                                           submit_request):
    """A worker's cached directory may predate a department made in another worker: an action that routes to
    a department its directory lacks reads the directory again rather than failing."""
    request_id = submit_request("permit", "bob")
    with app.app_context():
        known = department_directory()
        lacking = DepartmentDirectory(
            code_of={i: c for i, c in known.code_of.items() if c != "environment"},
            id_of={c: i for c, i in known.id_of.items() if c != "environment"},
            active_codes=known.active_codes - {"environment"}, parent_of=known.parent_of)
    app.extensions["civicdesk_departments"].update(directory=lacking, expires=time.monotonic() + 3600)
    staff_act(client, login_as("service-center-handler"), request_id, "accept")  # on to market and environment
    assert count_rows(app, "request_assignees", request_id=request_id) == 2
    assert count_rows(app, "outbox_messages", event="countersign_waiting") == 2


def test_submission_is_validated_against_the_form_and_materials(app, client, demo, resident_token):
    carol = bearer(resident_token("carol"))
    response = client.post("/mp/v1/requests", headers={**carol, "Idempotency-Key": "bad-1"}, json={
        "service_id": service_id(client, "permit"),
        "form": {"enterprise_name": "示范餐饮有限公司", "uscc": "91110108MA01ABCD21", "business_types": ["spa"]},
        "materials": {},
    })
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"form.uscc", "form.business_types", "form.legal_representative", "materials.licence"} <= set(errors)
    assert count_rows(app, "requests") == 0
    missing_key = client.post("/mp/v1/requests", headers=carol, json={"service_id": "x", "form": {}})
    assert missing_key.status_code == 400


def test_a_service_whose_process_has_no_active_version_takes_no_submission(app, client, demo, resident_token):
    with app.app_context():
        db.session.execute(sa.update(ProcessVersion).where(ProcessVersion.code == "repair").values(active=False))
        db.session.commit()
    response = client.post("/mp/v1/requests", headers={**bearer(resident_token("dave")), "Idempotency-Key": "r-1"},
                           json={"service_id": service_id(client, "repair"), "materials": {},
                                 "form": {"facility": "road", "address": "人民路1号", "description": "坑洼"}})
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert "no active version" in response.get_json()["detail"]
    assert count_rows(app, "requests") == 0


def test_another_resident_sees_nothing(app, client, resident_token, submit_request):
    request_id = submit_request("repair", "dave")
    eve = bearer(resident_token("eve"))
    assert client.get(f"/mp/v1/requests/{request_id}", headers=eve).status_code == 404
    withdraw = client.post(f"/mp/v1/requests/{request_id}/withdraw", headers=eve, json={"expected_version": 1})
    assert withdraw.status_code == 404
    assert client.get("/mp/v1/requests", headers=eve).get_json() == {"items": [], "next_cursor": None}
    dave = bearer(resident_token("dave"))
    mine = client.get("/mp/v1/requests", headers=dave).get_json()["items"]
    assert [r["id"] for r in mine] == [request_id]
    withdrawn = client.post(f"/mp/v1/requests/{request_id}/withdraw", headers=dave, json={"expected_version": 1})
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["status"] == "withdrawn"
    with app.app_context():
        assert db.session.get(Request, request_id).status == "withdrawn"


def complete_repair(client, login_as, request_id):
    handler = login_as("urban-handler")
    staff_act(client, handler, request_id, "accept")
    staff_act(client, handler, request_id, "complete")


def test_rating_rules_and_the_follow_up(app, client, login_as, resident_token, submit_request):
    request_id = submit_request("repair", "grace")
    grace = bearer(resident_token("grace"))
    too_early = client.post(f"/mp/v1/requests/{request_id}/rating", headers=grace, json={"level": 1})
    assert too_early.status_code == 409
    complete_repair(client, login_as, request_id)
    for bad in ({"level": 0}, {"level": 6}, {"level": "5"}, {"level": 3, "tags": ["x" * 40]}, {}):
        response = client.post(f"/mp/v1/requests/{request_id}/rating", headers=grace, json=bad)
        assert response.status_code == 422, bad
    stranger = bearer(resident_token("heidi"))
    assert client.post(f"/mp/v1/requests/{request_id}/rating", headers=stranger, json={"level": 5}).status_code == 404
    rated = client.post(f"/mp/v1/requests/{request_id}/rating", headers=grace,
                        json={"level": 1, "comment": "修了两次才好", "tags": ["slow", "slow"]})
    assert rated.status_code == 201
    assert rated.get_json()["tags"] == ["slow"]
    assert rated.get_json()["follow_up"]["status"] == "open"

    urban, housing = login_as("urban-handler"), login_as("housing-handler")
    queue = client.get("/console/v1/ratings/follow-ups?status=open", headers=urban).get_json()["items"]
    assert [(item["request_id"], item["level"]) for item in queue] == [(request_id, 1)]
    assert client.get("/console/v1/ratings/follow-ups", headers=housing).get_json()["items"] == []
    rating_id, version = queue[0]["id"], queue[0]["version"]
    url = f"/console/v1/ratings/{rating_id}/follow-up"
    assert client.post(url, headers=housing, json={"answer": "x", "expected_version": version}).status_code == 403
    assert client.post(url, headers=urban, json={"answer": "", "expected_version": version}).status_code == 422
    assert client.post(url, headers=urban, json={"answer": "x", "expected_version": version + 1}).status_code == 409
    answered = client.post(url, headers=urban, json={"answer": "已约谈维修班组并回访", "expected_version": version})
    assert answered.status_code == 200, answered.get_json()
    assert client.post(url, headers=urban, json={"answer": "again", "expected_version": version + 1}).status_code == 409

    mine = client.get(f"/mp/v1/requests/{request_id}", headers=grace).get_json()
    assert mine["rating"]["follow_up"]["status"] == "answered"
    assert mine["rating"]["follow_up"]["answer"] == "已约谈维修班组并回访"

    close = f"/console/v1/ratings/{rating_id}/follow-up/close"
    answered_version = answered.get_json()["version"]
    assert client.post(close, headers=urban, json={"expected_version": answered_version}).status_code == 403
    supervisor = login_as("urban-supervisor")
    closed = client.post(close, headers=supervisor, json={"expected_version": answered_version})
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["follow_up"]["status"] == "closed"
    assert client.post(close, headers=supervisor, json={"expected_version": answered_version + 1}).status_code == 409
    assert client.get("/console/v1/ratings/follow-ups?status=closed", headers=urban).get_json()["items"][0]["id"] \
        == rating_id


def test_a_good_rating_opens_no_follow_up(client, login_as, resident_token, submit_request):
    request_id = submit_request("repair", "ivan")
    complete_repair(client, login_as, request_id)
    rated = client.post(f"/mp/v1/requests/{request_id}/rating", headers=bearer(resident_token("ivan")),
                        json={"level": 5})
    assert rated.get_json()["follow_up"] is None
    assert client.get("/console/v1/ratings/follow-ups", headers=login_as("urban-handler")).get_json()["items"] == []


def test_withdraw_and_supplement_validation_and_stale_versions(app, client, login_as, resident_token,
                                                                submit_request):
    request_id = submit_request("repair", "judy")
    judy = bearer(resident_token("judy"))
    assert client.post(f"/mp/v1/requests/{request_id}/withdraw", headers=judy,
                       json={"expected_version": 7}).status_code == 409
    assert client.post(f"/mp/v1/requests/{request_id}/withdraw", headers=judy,
                       json={"expected_version": "one"}).status_code == 422
    assert client.post(f"/mp/v1/requests/{request_id}/supplements", headers=judy,
                       json={"materials": {"photos": "not-a-list"}, "expected_version": 1}).status_code == 422
    foreign = client.post(f"/mp/v1/requests/{request_id}/supplements", headers=judy,
                          json={"materials": {"photos": ["01nosuchattachment00000000"]}, "expected_version": 1})
    assert foreign.status_code == 422
    assert count_rows(app, "request_events", request_id=request_id) == 1
    assert client.post(f"/mp/v1/requests/{request_id}/withdraw", headers=judy,
                       json={"expected_version": 1}).status_code == 200
    again = client.post(f"/mp/v1/requests/{request_id}/withdraw", headers=judy, json={"expected_version": 2})
    assert again.status_code == 409
    assert again.get_json()["allowed_actions"] == []


def test_list_filters_by_status_and_walks_pages(client, login_as, resident_token, submit_request):
    ids = [submit_request("repair", "kim") for _ in range(3)]
    kim = bearer(resident_token("kim"))
    complete_repair(client, login_as, ids[0])
    completed = client.get("/mp/v1/requests?status=completed", headers=kim).get_json()["items"]
    assert [r["id"] for r in completed] == [ids[0]]
    assert client.get("/mp/v1/requests?status=lost", headers=kim).status_code == 422
    first = client.get("/mp/v1/requests?limit=2", headers=kim).get_json()
    second = client.get(f"/mp/v1/requests?limit=2&cursor={first['next_cursor']}", headers=kim).get_json()
    assert [r["id"] for r in first["items"] + second["items"]] == list(reversed(ids))
    assert second["next_cursor"] is None
