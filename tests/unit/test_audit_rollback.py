"""The audit record shares the transaction of its change: both are committed together or neither is."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from service.accounts import operations
from service.core.auth import SYSTEM, Actor
from service.core.db import db, read_only_intent, unit_of_work
from service.core.errors import Conflict, Forbidden, ValidationFailed
from service.core.models import AuditRecord
from tests.conftest import DEMO_PASSWORD


def _outside(app: Flask, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Read through a connection of its own, i.e. see only what has been committed."""
    with app.app_context(), read_only_intent(), db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql), params)]


def _audits(app: Flask, action: str) -> list[tuple[Any, ...]]:
    return _outside(app, "SELECT object_id, actor_kind FROM audit_records WHERE action = :action", action=action)


def _department(app: Flask, department_id: str) -> tuple[Any, ...]:
    [row] = _outside(app, "SELECT name, parent_id, version FROM departments WHERE id = :id", id=department_id)
    return row


def test_a_cycle_in_the_tree_is_refused_and_leaves_no_trace(app: Flask, departments: dict[str, str]) -> None:
    before = _department(app, departments["district"])

    with app.app_context():
        with pytest.raises(ValidationFailed) as refused:
            operations.update_department(SYSTEM, departments["district"],
                                         {"name": "改名", "parent_id": departments["urban"]}, expected=1)
        db.session.rollback()  # what the request boundary does with a refusal

    assert refused.value.errors == {"parent_id": ["Would make a cycle in the department tree."]}
    assert _department(app, departments["district"]) == before
    assert _audits(app, "department.updated") == []


def test_a_department_cannot_be_its_own_parent(app: Flask, departments: dict[str, str]) -> None:
    with app.app_context():
        with pytest.raises(ValidationFailed):
            operations.update_department(SYSTEM, departments["urban"], {"parent_id": departments["urban"]},
                                         expected=1)
        db.session.rollback()

    assert _department(app, departments["urban"])[1] == departments["district"]


def test_a_failure_after_flushed_changes_rolls_back_changes_and_their_audit(
    app: Flask, departments: dict[str, str]
) -> None:
    staff_before = _outside(app, "SELECT count(*) FROM staff")
    audits_before = _outside(app, "SELECT count(*) FROM audit_records")[0][0]
    created: dict[str, str] = {}

    def work() -> None:
        with unit_of_work(app):
            parks = operations.create_department(SYSTEM, "parks", "区园林绿化局", departments["district"])
            created["parks"] = parks.id
            operations.update_department(SYSTEM, departments["urban"], {"name": "城管局"}, expected=1)
            operations.create_staff(SYSTEM, username="dup", password=DEMO_PASSWORD,
                                    department_id=parks.id, roles=["handler"])
            # Three changes and their three audit records are flushed into the transaction ...
            in_transaction = db.session.execute(sa.select(sa.func.count()).select_from(AuditRecord)).scalar_one()
            assert in_transaction == audits_before + 3
            # ... when the next step fails.
            operations.create_staff(SYSTEM, username="DUP", password=DEMO_PASSWORD,
                                    department_id=parks.id, roles=["handler"])

    with pytest.raises(Conflict):
        work()

    assert _outside(app, "SELECT id FROM departments WHERE code = 'parks'") == []
    assert _department(app, departments["urban"])[0] == "区城市管理局"
    assert _outside(app, "SELECT count(*) FROM staff") == staff_before
    for action in ("department.updated", "staff.created"):
        assert _audits(app, action) == []
    assert _outside(app, "SELECT count(*) FROM audit_records WHERE object_id = :id", id=created["parks"]) == [(0,)]


def test_refusal_for_lack_of_rights_writes_nothing(app: Flask, departments: dict[str, str]) -> None:
    handler = Actor(kind="staff", id="01hzzzzzzzzzzzzzzzzzzzzzzz", department_id=departments["urban"],
                    roles=frozenset({"handler"}))
    audits_before = _outside(app, "SELECT count(*) FROM audit_records")

    with app.app_context():
        with pytest.raises(Forbidden):
            operations.create_department(handler, "parks", "区园林绿化局", None)
        db.session.rollback()

    assert _outside(app, "SELECT count(*) FROM audit_records") == audits_before
    assert _outside(app, "SELECT id FROM departments WHERE code = 'parks'") == []


def test_a_successful_change_commits_exactly_one_audit_record_with_it(app: Flask,
                                                                      departments: dict[str, str]) -> None:
    admin = Actor(kind="staff", id="01hadminadminadminadminadm", roles=frozenset({"admin"}))
    before = _department(app, departments["housing"])

    with app.app_context():
        operations.update_department(admin, departments["housing"], {"name": "住建局"}, expected=1)
        # Flushed but not committed: nobody else sees the change or its record yet.
        assert _department(app, departments["housing"]) == before
        assert _audits(app, "department.updated") == []
        db.session.commit()

    assert _department(app, departments["housing"]) == ("住建局", departments["district"], 2)
    [(object_id, actor_kind)] = _audits(app, "department.updated")
    assert (object_id, actor_kind) == (departments["housing"], "staff")
    [(data,)] = _outside(app, "SELECT data FROM audit_records WHERE action = 'department.updated'")
    data = json.loads(data) if isinstance(data, str) else data
    assert data == {"before": {"name": "区住房和城乡建设局"}, "after": {"name": "住建局"}}
