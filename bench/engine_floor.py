"""How fast civicdesk's writes could go on PostgreSQL with nothing of civicdesk around them.

``engine.py`` compares civicdesk with SpiffWorkflow. This script asks what part of civicdesk's time is its own:
it writes the rows a request of ``engine_process.yaml`` leaves behind — per step, under a lock on the request's
row, the request's new state, its work-queue rows, one event, one audit record and the outbox messages the step
causes — with constant values and nothing of civicdesk around them but the wire layer its direct statements
use (``service.core.pgwire``: no Flask, no SQLAlchemy session, no engine), in the same transactions, against
the same schema and over the same two round trips: BEGIN with the lock, then the writes and COMMIT, each
statement prepared once on the connection. In the same run, taking turns, it times SpiffWorkflow as
``engine.py`` does, and prints both and their ratio; the last line is JSON.

    scripts/with-postgres.sh .venv/bin/python bench/engine_floor.py

The floor is what civicdesk's own work (the engine, the session, the app context; measured on SQLite, where
talking to the database costs little) comes on top of.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from engine import POSTGRES_URL_VARIABLE, Side, set_up_civicdesk, set_up_spiff, spiff_request
from scratch import postgresql_database
from sqlalchemy.engine import Dialect

from service.core.db import db, new_id
from service.core.pgwire import Outcome, Prepared, Wire

# (assignee rows to hand on, insert, delete; outbox messages): what each of the five steps writes besides the
# request's state, its event and its audit record (accept, approve, countersign by housing, then by urban, reply)
STEPS = [
    {"move": ("service-center", "gov-office"), "outbox": 1},
    {"move": ("gov-office", "housing"), "insert": "urban", "outbox": 2},
    {"delete": "housing"},
    {"move": ("urban", "gov-office")},
    {"delete": "gov-office", "outbox": 1},
]


LOCK = Prepared.of("SELECT id, version, event_count, state FROM requests WHERE id = %(id)s FOR UPDATE")
INSERT_REQUEST = Prepared.of(
    "INSERT INTO requests (id, service_id, process_version_id, resident_id, status, current_step, state, form,"
    " materials, version, event_count, due_at, submitted_at, created_at, updated_at) VALUES (%(id)s, %(service)s,"
    " %(version_id)s, %(resident)s, 'submitted', 'register', %(state)s, '{}', '{}', 1, 1, %(now)s, %(now)s,"
    " %(now)s, %(now)s)")
MOVE_ASSIGNEE = Prepared.of("UPDATE request_assignees SET department_id = %(after)s, due_at = %(now)s"
                          " WHERE request_id = %(id)s AND department_id = %(before)s")
INSERT_ASSIGNEE = Prepared.of("INSERT INTO request_assignees (department_id, request_id, role, due_at)"
                            " VALUES (%(department)s, %(id)s, 'handler', %(now)s)")
DELETE_ASSIGNEE = Prepared.of("DELETE FROM request_assignees WHERE request_id = %(id)s"
                            " AND department_id = %(department)s")
UPDATE_REQUEST = Prepared.of(
    "UPDATE requests SET state = %(state)s, current_step = %(step)s, version = %(seq)s, event_count = %(seq)s,"
    " updated_at = %(now)s WHERE id = %(id)s AND version = %(previous)s")
INSERT_OUTBOX = Prepared.of(
    "INSERT INTO outbox_messages (id, idempotency_key, channel, event, recipient_kind, recipient_id, subject_type,"
    " subject_id, payload, status, attempts, next_attempt_at, created_at, updated_at) VALUES (%(mid)s, %(key)s,"
    " 'wechat', 'bench', 'resident', %(resident)s, 'request', %(id)s, '{}', 'pending', 0, %(now)s, %(now)s,"
    " %(now)s) ON CONFLICT (idempotency_key) DO NOTHING")
INSERT_EVENT = Prepared.of(
    "INSERT INTO request_events (id, request_id, seq, action, at, actor_kind, actor_id, from_step, to_step, data,"
    " public) VALUES (%(eid)s, %(id)s, %(seq)s, 'bench', %(now)s, 'staff', %(actor)s, 'a', 'b', '{}', true)")
INSERT_AUDIT = Prepared.of(
    "INSERT INTO audit_records (id, at, actor_kind, actor_id, action, object_type, object_id, data)"
    " VALUES (%(aid)s, %(now)s, 'staff', %(actor)s, 'request.bench', 'request', %(id)s, '{}')")


class Floor:
    def __init__(self, url: str, template: dict[str, Any], departments: dict[str, str], dialect: Dialect) -> None:
        self.connection = psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(False),
                                          autocommit=True)  # BEGIN and COMMIT are sent with the statements
        self.wire = Wire(self.connection)
        self.dialect = dialect
        self.template = template
        self.departments = departments
        self.state = json.dumps(template["state"])

    def _send(self, prepared: Prepared, **values: Any) -> Outcome:
        return self.wire.send(prepared, [values[name] for name in prepared.order])

    def request(self) -> None:
        wire, row, now = self.wire, self.template, datetime.now(UTC)
        request_id = new_id()
        common = {"id": request_id, "now": now}
        wire.begin_owed, wire.writing = True, True
        self._send(INSERT_REQUEST, **common, service=row["service_id"], version_id=row["process_version_id"],
                   resident=row["resident_id"], state=self.state)
        self._send(INSERT_ASSIGNEE, **common, department=self.departments["service-center"])
        self._event_and_audit(common, 1)
        wire.commit(self.dialect)
        for seq, step in enumerate(STEPS, start=2):
            wire.begin_owed = True
            lock = self._send(LOCK, id=request_id)
            wire.settle(self.dialect)
            assert lock.fetchone() is not None
            wire.writing = True
            if "move" in step:
                before, after = step["move"]
                self._send(MOVE_ASSIGNEE, **common, before=self.departments[before], after=self.departments[after])
            if "insert" in step:
                self._send(INSERT_ASSIGNEE, **common, department=self.departments[step["insert"]])
            if "delete" in step:
                self._send(DELETE_ASSIGNEE, id=request_id, department=self.departments[step["delete"]])
            self._send(UPDATE_REQUEST, **common, state=self.state, step=f"step-{seq}", seq=seq, previous=seq - 1)
            self._event_and_audit(common, seq)
            for number in range(step.get("outbox", 0)):
                self._send(INSERT_OUTBOX, **common, mid=new_id(), key=f"bench:{request_id}:{seq}:{number}",
                           resident=row["resident_id"])
            wire.commit(self.dialect)

    def _event_and_audit(self, common: dict[str, Any], seq: int) -> None:
        actor = self.template["resident_id"]
        self._send(INSERT_EVENT, **common, eid=new_id(), seq=seq, actor=actor)
        self._send(INSERT_AUDIT, **common, aid=new_id(), actor=actor)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=25)
    args = parser.parse_args(argv)
    os.environ.setdefault("CIVICDESK_ENV", "testing")
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        raise SystemExit(f"{POSTGRES_URL_VARIABLE} is not set: run this through scripts/with-postgres.sh")
    with postgresql_database(server, "civicdesk_floor") as url, tempfile.TemporaryDirectory() as workdir:
        civicdesk = set_up_civicdesk(url, workdir)
        with civicdesk.app.app_context():
            from service.requests import operations

            template = operations.submit_request(civicdesk.resident, civicdesk.service_id, {}, {})
            db.session.commit()
            row = db.session.execute(sa.text("SELECT * FROM requests WHERE id = :id"), {"id": template.id})
            departments = dict(db.session.execute(sa.text("SELECT code, id FROM departments")).all())
            floor = Floor(url, dict(row.mappings().one()), departments, db.engine.dialect)
        spiff = set_up_spiff(civicdesk.app)
        sides = [Side("floor", floor.request, False), Side("spiffworkflow", lambda: spiff_request(spiff), False)]
        for side in sides:
            for _ in range(10):
                side.run_one()
        best = {side.name: 0.0 for side in sides}
        for number in range(1, args.rounds + 1):
            for side in sides:
                side.elapsed = 0.0
            for done in range(0, args.requests, args.chunk):
                for side in sides:
                    side.run(min(args.chunk, args.requests - done))
                sides.reverse()
            rates = {side.name: args.requests / side.elapsed for side in sides}
            best = {name: max(best[name], rate) for name, rate in rates.items()}
            print(f"  round {number}: wire floor {rates['floor']:7.1f} requests/s, SpiffWorkflow "
                  f"{rates['spiffworkflow']:7.1f} requests/s ({rates['floor'] / rates['spiffworkflow']:.2f}x)",
                  flush=True)
        floor.connection.close()
        with civicdesk.app.app_context():
            db.session.remove()
            db.engine.dispose()
    ratio = best["floor"] / best["spiffworkflow"]
    print(f"postgresql: wire floor {best['floor']:.1f} requests/s, SpiffWorkflow {best['spiffworkflow']:.1f} "
          f"requests/s: floor/SpiffWorkflow = {ratio:.2f}x")
    print(json.dumps({"benchmark": "engine_floor", "requests": args.requests,
                      "results": {"postgresql": {"floor_rps": round(best["floor"], 1),
                                                 "spiffworkflow_rps": round(best["spiffworkflow"], 1),
                                                 "ratio": round(ratio, 2)}}}), flush=True)


if __name__ == "__main__":
    main()
