"""Work queues: two departments through a countersign and a transfer, with notes, their queues checked at each
step; filters and counts; and on PostgreSQL, the queue query has an index path."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.core.auth import Actor
from service.core.db import db
from service.requests import queries


def queue(client, headers, **params):
    response = client.get("/console/v1/tasks", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(page):
    return [item["id"] for item in page["items"]]


def act(client, headers, request_id, action, **body):
    version = client.get(f"/console/v1/requests/{request_id}", headers=headers).get_json()["version"]
    response = client.post(f"/console/v1/requests/{request_id}/actions", headers=headers,
                           json={"action": action, "expected_version": version, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_two_departments_through_a_countersign_and_a_transfer_with_notes(client, login_as, submit_request):
    permit = submit_request("permit")
    repair = submit_request("repair")
    center, market = login_as("service-center-handler"), login_as("market-handler")
    environment, urban, housing = (login_as("environment-handler"), login_as("urban-handler"),
                                   login_as("housing-handler"))

    assert ids(queue(client, center)) == [permit]
    assert ids(queue(client, urban)) == [repair]
    assert ids(queue(client, market)) == []

    act(client, center, permit, "accept")
    assert ids(queue(client, center)) == []
    assert ids(queue(client, market)) == [permit]
    assert ids(queue(client, environment)) == [permit]

    note = client.post(f"/console/v1/requests/{permit}/notes", headers=market, json={"body": "场地需现场核查"})
    assert note.status_code == 201
    act(client, market, permit, "countersign", data={"decision": "agree"})
    assert ids(queue(client, market)) == []  # signed: no longer waiting on market
    assert ids(queue(client, environment)) == [permit]
    detail = act(client, environment, permit, "countersign", data={"decision": "agree"})
    assert detail["current_step"] == "decision"
    assert [n["body"] for n in detail["notes"]] == ["场地需现场核查"]
    assert ids(queue(client, environment)) == []
    assert ids(queue(client, market)) == []  # the decision is for market's supervisor, not its handlers
    assert ids(queue(client, login_as("market-supervisor"))) == [permit]

    act(client, urban, repair, "transfer", data={"department": "housing"}, comment="属住建职责")
    client.post(f"/console/v1/requests/{repair}/notes", headers=housing, json={"body": "已联系物业"})
    assert ids(queue(client, urban)) == []
    assert ids(queue(client, housing)) == [repair]
    notes = client.get(f"/console/v1/requests/{repair}", headers=urban).get_json()["notes"]
    assert [n["body"] for n in notes] == ["已联系物业"]  # urban handled it and still reads its notes


def test_filters_counts_and_order(client, login_as, submit_request, app):
    first, second, third = submit_request("repair"), submit_request("repair"), submit_request("repair")
    urban = login_as("urban-handler")
    act(client, urban, second, "claim")
    page = queue(client, urban)
    assert set(ids(page)) == {first, second, third}
    dues = [item["due_at"] for item in page["items"]]
    assert dues == sorted(dues)
    assert page["counts"] == {"all": 3, "overdue": 0, "claimed_by_me": 1, "unclaimed": 2}
    assert ids(queue(client, urban, claimed_by_me="true")) == [second]
    assert second not in ids(queue(client, urban, claimed_by_me="false"))
    assert ids(queue(client, urban, overdue="true")) == []
    assert ids(queue(client, urban, step="repair")) == []
    walked = []
    cursor = None
    while True:
        page = queue(client, urban, limit=1, **({"cursor": cursor} if cursor else {}))
        walked += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(walked) == sorted([first, second, third])
    assert len(walked) == 3


def test_roles_without_handling_are_refused(client, login_as, submit_request):
    submit_request("repair")
    assert client.get("/console/v1/tasks", headers=login_as("publisher")).status_code == 403
    assert client.get("/console/v1/tasks", headers=login_as("admin")).status_code == 403


def test_notes_stay_internal(client, login_as, submit_request, resident_token):
    from tests.conftest import bearer

    request_id = submit_request("repair", "frank")
    urban = login_as("urban-handler")
    client.post(f"/console/v1/requests/{request_id}/notes", headers=urban, json={"body": "内部意见：疑似重复"})
    resident = client.get(f"/mp/v1/requests/{request_id}", headers=bearer(resident_token("frank")))
    assert resident.status_code == 200
    assert "内部意见" not in resident.get_data(as_text=True)
    assert client.post(f"/console/v1/requests/{request_id}/notes", headers=login_as("housing-handler"),
                       json={"body": "x"}).status_code == 404
    assert client.post(f"/console/v1/requests/{request_id}/notes", headers=urban,
                       json={"body": ""}).status_code == 422


@pytest.mark.postgres
def test_queue_query_uses_indexes_on_postgresql(app, demo, submit_request):
    for _ in range(3):
        submit_request("repair")
    with app.app_context():
        from service.accounts.models import Staff

        staff = db.session.execute(sa.select(Staff).where(Staff.username == "urban-handler")).scalar_one()
        actor = Actor(kind="staff", id=staff.id, department_id=staff.department_id, roles=frozenset(staff.roles))
        stmt = queries._queue(actor).order_by(sa.text("queue_due"), sa.text("request_assignees.request_id")).limit(21)
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        db.session.execute(sa.text("ANALYZE"))
        # with sequential scans priced out, the planner must still find an index path: proof that one exists
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
        assert "Seq Scan on requests" not in plan, plan
        assert "Index" in plan, plan


def test_a_lapsed_claim_leaves_the_queue_unclaimed(client, login_as, submit_request, app):
    from datetime import timedelta

    from service.accounts.models import Staff
    from service.core.db import utcnow
    from service.requests import operations

    request_id = submit_request("repair")
    urban = login_as("urban-handler")
    with app.app_context():
        staff = db.session.execute(sa.select(Staff).where(Staff.username == "urban-handler")).scalar_one()
        actor = Actor(kind="staff", id=staff.id, department_id=staff.department_id, roles=frozenset(staff.roles))
        hours = app.config["CLAIM_TIMEOUT_HOURS"]
        operations.act(actor, request_id, "claim", None, {}, 1, utcnow() - timedelta(hours=hours + 1))
        db.session.commit()
    page = queue(client, urban)
    assert page["items"][0]["claimed_by"] is None
    assert page["counts"]["claimed_by_me"] == 0
    assert page["counts"]["unclaimed"] == 1
    assert ids(queue(client, urban, claimed_by_me="true")) == []
    other = login_as("urban-supervisor")
    assert "claim" in client.get(f"/console/v1/requests/{request_id}", headers=other).get_json()["allowed_actions"]
