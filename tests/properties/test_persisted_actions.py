"""Random action sequences against persisted requests: every accepted action writes exactly one event and one
audit record in its transaction, a refused one changes nothing, the work-queue rows always name who the stored
state expects to act, and the stored events replay to the stored state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.accounts.queries import department_directory
from service.catalog.models import Service
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.core.errors import Problem
from service.engine.runtime import expected_actors, replay
from service.processes.models import ProcessVersion
from service.processes.queries import definition_by_id, definition_of
from service.requests import operations
from service.requests.models import Request, RequestAssignee, RequestEvent
from tests.conftest import count_rows

STAFF = [f"{department}-{role}" for department in ("service-center", "urban", "market", "environment", "gov-office")
         for role in ("handler", "supervisor")]
ACTIONS = ["accept", "reject", "transfer", "claim", "release", "complete", "request_materials", "countersign",
           "approve", "extend", "send_back", "dispatch", "reply", "withdraw", "supplement", "add_signer"]


def data_for(action: str, draw: Any) -> dict[str, Any]:
    return {
        "transfer": {"department": draw(st.sampled_from(["urban", "housing", "market"]))},
        "dispatch": {"department": draw(st.sampled_from(["urban", "housing"]))},
        "add_signer": {"department": draw(st.sampled_from(["housing", "market"]))},
        "countersign": {"decision": draw(st.sampled_from(["agree", "disagree"]))},
        "request_materials": {"items": ["营业执照"]},
        "extend": {"days": draw(st.integers(1, 12))},
        "reply": {"answer": "已处理", "outcome": "public"},
    }.get(action, {})


def assert_queue_matches_state(request_id: str) -> None:
    request = db.session.get(Request, request_id)
    id_of = department_directory().id_of
    due = request.step_due_at or request.due_at
    expected = {(id_of[a.department], a.role, due)
                for a in expected_actors(definition_by_id(request.process_version_id), operations.view_state(request))}
    rows = db.session.execute(sa.select(RequestAssignee).where(RequestAssignee.request_id == request_id)).scalars()
    assert {(row.department_id, row.role, row.due_at) for row in rows} == expected


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(process=st.sampled_from(["repair", "permit", "complaint"]), data=st.data())
def test_accepted_actions_write_one_event_and_one_audit_record(app, demo, process, data):
    from service.accounts.models import Resident, Staff

    with app.app_context():
        owner = Resident(openid=f"o-{utcnow().timestamp()}")
        db.session.add(owner)
        db.session.flush()
        owner_actor = Actor(kind="resident", id=owner.id)
        service = db.session.execute(sa.select(Service).where(Service.code == process)).scalar_one()
        now = utcnow()
        request_id = operations.submit(owner_actor, service, {}, {}, now).id
        db.session.commit()
        staff = {s.username: Actor(kind="staff", id=s.id, department_id=s.department_id, roles=frozenset(s.roles))
                 for s in db.session.execute(sa.select(Staff)).scalars() if s.username in STAFF}

    actors = {**staff, "owner": owner_actor}
    for _ in range(data.draw(st.integers(3, 15))):
        now += timedelta(hours=data.draw(st.integers(1, 72)))
        with app.app_context():
            request = db.session.get(Request, request_id)
            legal = {name: operations.allowed_for(a, request, now) for name, a in actors.items()}
        candidates = sorted(name for name, allowed in legal.items() if allowed)
        # half of the attempts are legal moves (so requests get far), half are anything at all
        if candidates and data.draw(st.booleans()):
            who = data.draw(st.sampled_from(candidates))
            action = data.draw(st.sampled_from(legal[who]))
        else:
            who = data.draw(st.sampled_from(sorted(actors)))
            action = data.draw(st.sampled_from(ACTIONS))
        actor = actors[who]
        comment = data.draw(st.sampled_from([None, "理由"]))
        with app.app_context():
            version = db.session.get(Request, request_id).version
        events, audits = count_rows(app, "request_events", request_id=request_id), count_rows(app, "audit_records")
        with app.app_context():
            refusal: Problem | None = None
            try:
                operations.act(actor, request_id, action, comment, data_for(action, data.draw), version, now)
                db.session.commit()
            except Problem as problem:
                db.session.rollback()
                refusal = problem
        accepted = refusal is None
        assert refusal is None or refusal.status in (403, 409, 422), refusal
        if action not in legal[who]:
            assert not accepted, f"{who} {action} was accepted though not allowed"
        assert count_rows(app, "request_events", request_id=request_id) == events + accepted
        assert count_rows(app, "audit_records") == audits + accepted
        with app.app_context():
            assert_queue_matches_state(request_id)

    with app.app_context():
        request = db.session.get(Request, request_id)
        rows = db.session.execute(sa.select(RequestEvent).where(RequestEvent.request_id == request_id)
                                  .order_by(RequestEvent.seq)).scalars().all()
        assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
        definition = definition_of(db.session.get(ProcessVersion, request.process_version_id))
        assert replay(definition, [operations.event_of(row) for row in rows]) == operations.view_state(request)
