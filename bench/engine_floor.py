"""How fast civicdesk's writes could go on PostgreSQL with nothing of civicdesk around them.

``engine.py`` compares civicdesk with SpiffWorkflow. This script asks what part of civicdesk's time is its own:
it writes the rows a request of ``engine_process.yaml`` leaves behind — per step, under a lock on the request's
row, the request's new state, its work-queue rows, one event, one audit record and the outbox messages the step
causes — through psycopg alone (no Flask, no SQLAlchemy, no engine: constant values), in the same transactions,
against the same schema and over the same two round trips as civicdesk: BEGIN with the lock (``EXECUTE`` of a
prepared statement) in one message, then the writes and COMMIT in psycopg's pipeline mode. In the same run,
taking turns, it times SpiffWorkflow as ``engine.py`` does, and prints both and their ratio; the last line is
JSON.

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

from service.core.db import db, new_id

# (assignee rows to hand on, insert, delete; outbox messages): what each of the five steps writes besides the
# request's state, its event and its audit record (accept, approve, countersign by housing, then by urban, reply)
STEPS = [
    {"move": ("service-center", "gov-office"), "outbox": 1},
    {"move": ("gov-office", "housing"), "insert": "urban", "outbox": 2},
    {"delete": "housing"},
    {"move": ("urban", "gov-office")},
    {"delete": "gov-office", "outbox": 1},
]


class Floor:
    def __init__(self, url: str, template: dict[str, Any], departments: dict[str, str]) -> None:
        self.connection = psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(False),
                                          autocommit=True)  # BEGIN and COMMIT are sent with the statements
        self.connection.execute("PREPARE floor_lock AS SELECT id, version, event_count, state FROM requests"
                                " WHERE id = $1 FOR UPDATE")
        self.literals = psycopg.ClientCursor(self.connection)
        self.template = template
        self.departments = departments
        self.state = json.dumps(template["state"])

    def request(self) -> None:
        connection, row, now = self.connection, self.template, datetime.now(UTC)
        request_id = new_id()
        with connection.pipeline():
            connection.execute("BEGIN")
            connection.execute(
                "INSERT INTO requests (id, service_id, process_version_id, resident_id, status, current_step, state,"
                " form, materials, version, event_count, due_at, submitted_at, created_at, updated_at) VALUES"
                " (%s, %s, %s, %s, 'submitted', 'register', %s, '{}', '{}', 1, 1, %s, %s, %s, %s)",
                (request_id, row["service_id"], row["process_version_id"], row["resident_id"], self.state, now,
                 now, now, now))
            self._insert_assignee("service-center", request_id, now)
            self._event_and_audit(request_id, 1, now)
            connection.execute("COMMIT")
        for seq, step in enumerate(STEPS, start=2):
            lock = connection.execute("BEGIN;" + self.literals.mogrify("EXECUTE floor_lock(%s)", (request_id,)))
            lock.nextset()
            lock.fetchone()
            with connection.pipeline():
                if "move" in step:
                    before, after = step["move"]
                    connection.execute("UPDATE request_assignees SET department_id = %s, due_at = %s"
                                       " WHERE request_id = %s AND department_id = %s",
                                       (self.departments[after], now, request_id, self.departments[before]))
                if "insert" in step:
                    self._insert_assignee(step["insert"], request_id, now)
                if "delete" in step:
                    connection.execute("DELETE FROM request_assignees WHERE request_id = %s AND department_id = %s",
                                       (request_id, self.departments[step["delete"]]))
                connection.execute(
                    "UPDATE requests SET state = %s, current_step = %s, version = %s, event_count = %s,"
                    " updated_at = %s WHERE id = %s AND version = %s",
                    (self.state, f"step-{seq}", seq, seq, now, request_id, seq - 1))
                self._event_and_audit(request_id, seq, now)
                for number in range(step.get("outbox", 0)):
                    connection.execute(
                        "INSERT INTO outbox_messages (id, idempotency_key, channel, event, recipient_kind,"
                        " recipient_id, subject_type, subject_id, payload, status, attempts, next_attempt_at,"
                        " created_at, updated_at) VALUES (%s, %s, 'wechat', 'bench', 'resident', %s, 'request',"
                        " %s, '{}', 'pending', 0, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING",
                        (new_id(), f"bench:{request_id}:{seq}:{number}", row["resident_id"], request_id, now, now,
                         now))
                connection.execute("COMMIT")

    def _insert_assignee(self, department: str, request_id: str, now: datetime) -> None:
        self.connection.execute("INSERT INTO request_assignees (department_id, request_id, role, due_at)"
                                " VALUES (%s, %s, 'handler', %s)", (self.departments[department], request_id, now))

    def _event_and_audit(self, request_id: str, seq: int, now: datetime) -> None:
        actor = self.template["resident_id"]
        self.connection.execute(
            "INSERT INTO request_events (id, request_id, seq, action, at, actor_kind, actor_id, from_step, to_step,"
            " data, public) VALUES (%s, %s, %s, 'bench', %s, 'staff', %s, 'a', 'b', '{}', true)",
            (new_id(), request_id, seq, now, actor))
        self.connection.execute(
            "INSERT INTO audit_records (id, at, actor_kind, actor_id, action, object_type, object_id, data)"
            " VALUES (%s, %s, 'staff', %s, 'request.bench', 'request', %s, '{}')", (new_id(), now, actor, request_id))


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
            floor = Floor(url, dict(row.mappings().one()), departments)
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
            print(f"  round {number}: psycopg floor {rates['floor']:7.1f} requests/s, SpiffWorkflow "
                  f"{rates['spiffworkflow']:7.1f} requests/s ({rates['floor'] / rates['spiffworkflow']:.2f}x)",
                  flush=True)
        floor.connection.close()
        with civicdesk.app.app_context():
            db.session.remove()
            db.engine.dispose()
    ratio = best["floor"] / best["spiffworkflow"]
    print(f"postgresql: psycopg floor {best['floor']:.1f} requests/s, SpiffWorkflow {best['spiffworkflow']:.1f} "
          f"requests/s: floor/SpiffWorkflow = {ratio:.2f}x")
    print(json.dumps({"benchmark": "engine_floor", "requests": args.requests,
                      "results": {"postgresql": {"floor_rps": round(best["floor"], 1),
                                                 "spiffworkflow_rps": round(best["spiffworkflow"], 1),
                                                 "ratio": round(ratio, 2)}}}), flush=True)


if __name__ == "__main__":
    main()
