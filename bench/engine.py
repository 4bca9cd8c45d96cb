"""Completed requests per second through a full multi-step process, persisted: civicdesk against SpiffWorkflow.

Each request runs through five steps: register (service-center), review (gov-office), a countersign by housing
and urban, reply (gov-office).

* civicdesk: ``bench/engine_process.yaml`` as a catalog service. The submission is one transaction, and each
  of the five actions (accept, approve, countersign by housing, countersign by urban, reply) runs in its own
  app context and transaction, as a web request would: ``service.requests.operations.act`` then commit. Each
  writes the request's new state, its assignees, one event and one audit record.
* SpiffWorkflow: ``bench/engine_model.bpmn`` (the same five user tasks in lanes, the countersign as a parallel
  gateway), parsed once up front, run as a stateless web worker must: each step in its own transaction SELECTs
  the serialized workflow (FOR UPDATE), deserializes it, completes the ready user task of the acting lane,
  runs the engine steps, serializes it and UPDATEs the row, and appends one event row.

Both use the same SQLAlchemy engine (same pool, same SQLite pragmas and ``BEGIN IMMEDIATE``) on the same
database. After an untimed warm-up, ``--rounds`` timed rounds of ``--requests`` requests per side; within a round
the two sides take turns every ``--chunk`` requests, so load from elsewhere on the machine falls on both. Each
side's best round counts. The last line printed is one JSON object of the figures.

    .venv/bin/python bench/engine.py                                  # SQLite, then PostgreSQL
    .venv/bin/python bench/engine.py --database sqlite
    scripts/with-postgres.sh .venv/bin/python bench/engine.py --database postgresql

PostgreSQL: the server named by ``CIVICDESK_TEST_DATABASE_URL`` (a scratch database is created on it and
dropped afterwards); without that variable the PostgreSQL part re-runs itself through
``scripts/with-postgres.sh``, which starts a throwaway cluster.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from scratch import postgresql_database, sqlite_database  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.parser import BpmnParser  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from service import create_app, migrations  # noqa: E402
from service.accounts.models import Department, Resident, Staff  # noqa: E402
from service.catalog import operations as catalog_operations  # noqa: E402
from service.core.auth import SYSTEM, Actor  # noqa: E402
from service.core.db import db  # noqa: E402
from service.demo import load_demo  # noqa: E402
from service.processes import operations as process_operations  # noqa: E402
from service.requests import operations as request_operations  # noqa: E402
from service.requests.models import Request  # noqa: E402

HERE = Path(__file__).resolve().parent
PROCESS_FILE = HERE / "engine_process.yaml"
BPMN_FILE = HERE / "engine_model.bpmn"
BPMN_PROCESS_ID = "bench_request"
SERVICE_CODE = "bench-engine"
DEMO_PASSWORD = "bench-password-123"  # noqa: S105 (demo staff of a scratch database)
POSTGRES_URL_VARIABLE = "CIVICDESK_TEST_DATABASE_URL"

# (staff username, action, data): what each of the five steps does in civicdesk
CIVICDESK_STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("service-center-handler", "accept", {}),
    ("gov-office-handler", "approve", {}),
    ("housing-handler", "countersign", {"decision": "agree"}),
    ("urban-handler", "countersign", {"decision": "agree"}),
    ("gov-office-handler", "reply", {}),
]
# (acting lane = department, user task, data): the same five steps in the BPMN model
SPIFF_STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("service-center", "register", {}),
    ("gov-office", "review", {}),
    ("housing", "countersign_housing", {"decision": "agree"}),
    ("urban", "countersign_urban", {"decision": "agree"}),
    ("gov-office", "reply", {}),
]


# --- databases ------------------------------------------------------------------------------------------------


# --- civicdesk ------------------------------------------------------------------------------------------------


@dataclass
class CivicdeskSetup:
    app: Flask
    service_id: str
    resident: Actor
    steps: list[tuple[Actor, str, dict[str, Any]]]


def set_up_civicdesk(url: str, workdir: str) -> CivicdeskSetup:
    settings = {"DATABASE_URL": url, "UPLOAD_DIR": workdir, "REDIS_URL": "",
                "WECHAT_BASE_URL": "http://127.0.0.1:9/"}
    app = create_app(settings, "testing")
    migrations.upgrade(app)
    with app.app_context():
        load_demo(DEMO_PASSWORD)
        definition = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
        process_operations.upload(SYSTEM, definition, activate=True)
        service = catalog_operations.create_service(
            SYSTEM, code=SERVICE_CODE, name=definition["name"], category="bench", process_code=definition["code"],
            time_limit_working_days=definition["time_limit_working_days"])
        resident = Resident(openid="o-bench-resident", nickname="bench")
        db.session.add(resident)
        db.session.flush()
        staff = {row.username: row for row in db.session.execute(sa.select(Staff)).scalars()}
        codes = {row.id: row.code for row in db.session.execute(sa.select(Department.id, Department.code))}
        steps = []
        for username, action, data in CIVICDESK_STEPS:
            member = staff[username]
            assert codes[member.department_id] == username.removesuffix("-handler")
            steps.append((Actor(kind="staff", id=member.id, department_id=member.department_id,
                                roles=frozenset(member.roles)), action, data))
        setup = CivicdeskSetup(app=app, service_id=service.id, resident=Actor(kind="resident", id=resident.id),
                               steps=steps)
        db.session.commit()
    return setup


def civicdesk_request(setup: CivicdeskSetup) -> str:
    """One request from submission to reply: six transactions, each in its own app context."""
    app = setup.app
    with app.app_context():
        request = request_operations.submit_request(setup.resident, setup.service_id, {}, {})
        request_id, version = request.id, request.version
        db.session.commit()
    for actor, action, data in setup.steps:
        with app.app_context():
            request = request_operations.act(actor, request_id, action, None, data, version)
            version = request.version
            status = request.status
            db.session.commit()
    assert status == "completed", status
    return request_id


def civicdesk_completed(setup: CivicdeskSetup) -> int:
    with setup.app.app_context():
        return int(db.session.execute(
            sa.select(sa.func.count()).select_from(Request).where(Request.status == "completed")).scalar_one())


# --- SpiffWorkflow --------------------------------------------------------------------------------------------

spiff_metadata = sa.MetaData()
spiff_workflows = sa.Table(
    "spiff_workflows", spiff_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("completed", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
spiff_events = sa.Table(
    "spiff_events", spiff_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workflow_id", sa.ForeignKey("spiff_workflows.id"), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("task", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.UniqueConstraint("workflow_id", "seq"),
)


@dataclass
class SpiffSetup:
    engine: sa.Engine
    spec: Any
    subprocess_specs: dict[str, Any]
    serializer: BpmnWorkflowSerializer


def set_up_spiff(app: Flask) -> SpiffSetup:
    """The tables on the app's own engine (same pool and connection settings), and the spec parsed once."""
    with app.app_context():
        engine = db.engine
    spiff_metadata.create_all(engine)
    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN_FILE))
    return SpiffSetup(engine=engine, spec=parser.get_spec(BPMN_PROCESS_ID),
                      subprocess_specs=parser.get_subprocess_specs(BPMN_PROCESS_ID),
                      serializer=BpmnWorkflowSerializer())


def spiff_request(setup: SpiffSetup) -> int:
    """One workflow from creation to its end: six transactions, each loading and saving the serialized state."""
    serializer = setup.serializer
    with setup.engine.begin() as connection:
        workflow = BpmnWorkflow(setup.spec, setup.subprocess_specs)
        workflow.do_engine_steps()
        now = datetime.now(UTC)
        workflow_id = connection.execute(spiff_workflows.insert().values(
            state=serializer.serialize_json(workflow), completed=False, created_at=now, updated_at=now,
        )).inserted_primary_key[0]
        connection.execute(spiff_events.insert().values(
            workflow_id=workflow_id, seq=0, task="submit", actor="resident", at=now, data={}))
    for seq, (lane, task_name, data) in enumerate(SPIFF_STEPS, start=1):
        with setup.engine.begin() as connection:
            state = connection.execute(
                sa.select(spiff_workflows.c.state).where(spiff_workflows.c.id == workflow_id).with_for_update()
            ).scalar_one()
            workflow = serializer.deserialize_json(state)
            task = workflow.get_next_task(state=TaskState.READY, manual=True, spec_name=task_name)
            if task is None or task.task_spec.lane != lane:
                raise RuntimeError(f"{task_name} is not ready for {lane}")
            task.data.update(data)
            task.run()
            workflow.do_engine_steps()
            completed = workflow.is_completed()
            now = datetime.now(UTC)
            connection.execute(spiff_workflows.update().where(spiff_workflows.c.id == workflow_id).values(
                state=serializer.serialize_json(workflow), completed=completed, updated_at=now))
            connection.execute(spiff_events.insert().values(
                workflow_id=workflow_id, seq=seq, task=task_name, actor=lane, at=now, data=data))
    assert completed
    return int(workflow_id)


def spiff_completed(setup: SpiffSetup) -> int:
    with setup.engine.connect() as connection:
        return int(connection.execute(
            sa.select(sa.func.count()).select_from(spiff_workflows).where(spiff_workflows.c.completed)
        ).scalar_one())


# --- measuring ------------------------------------------------------------------------------------------------


class Side:
    """One contender: how to run one request, the time it has taken so far in a round, and its profile."""

    def __init__(self, name: str, run_one: Callable[[], object], profile: bool) -> None:
        self.name = name
        self.run_one = run_one
        self.profile = cProfile.Profile() if profile else None
        self.elapsed = 0.0

    def run(self, count: int) -> None:
        if self.profile is not None:
            self.profile.enable()
        started = time.perf_counter()
        for _ in range(count):
            self.run_one()
        self.elapsed += time.perf_counter() - started
        if self.profile is not None:
            self.profile.disable()


def measure(database: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    """Best requests/s of each side over ``args.rounds`` rounds of ``args.requests`` requests.

    Within a round the two sides take turns in chunks of ``args.chunk`` requests (the first to go alternates),
    so a burst of load from elsewhere on the machine falls on both rather than on one.
    """
    with tempfile.TemporaryDirectory(prefix="civicdesk-bench-uploads-") as workdir:
        civicdesk = set_up_civicdesk(url, workdir)
        spiff = set_up_spiff(civicdesk.app)
        sides = [Side("civicdesk", lambda: civicdesk_request(civicdesk), args.profile == "civicdesk"),
                 Side("spiffworkflow", lambda: spiff_request(spiff), args.profile == "spiffworkflow")]
        for side in sides:
            for _ in range(args.warmup):
                side.run_one()
        best = {side.name: 0.0 for side in sides}
        for number in range(1, args.rounds + 1):
            for side in sides:
                side.elapsed = 0.0
            done = 0
            while done < args.requests:
                count = min(args.chunk, args.requests - done)
                for side in sides:
                    side.run(count)
                sides.reverse()
                done += count
            rates = {side.name: args.requests / side.elapsed for side in sides}
            for name, rate in rates.items():
                best[name] = max(best[name], rate)
            print(f"  [{database}] round {number}: civicdesk {rates['civicdesk']:7.1f} requests/s, SpiffWorkflow "
                  f"{rates['spiffworkflow']:7.1f} requests/s ({rates['civicdesk'] / rates['spiffworkflow']:.2f}x)",
                  flush=True)
        expected = args.warmup + args.rounds * args.requests
        if civicdesk_completed(civicdesk) != expected or spiff_completed(spiff) != expected:
            raise RuntimeError("a side did not complete every request it was timed on")
        with civicdesk.app.app_context():
            db.session.remove()
            db.engine.dispose()
    for side in sides:
        if side.profile is not None:
            print(f"\ncProfile of {side.name} on {database} (timed rounds only), by cumulative time:",
                  file=sys.stderr)
            pstats.Stats(side.profile, stream=sys.stderr).sort_stats("cumulative").print_stats(60)
    return {"civicdesk_rps": round(best["civicdesk"], 1), "spiffworkflow_rps": round(best["spiffworkflow"], 1),
            "ratio": round(best["civicdesk"] / best["spiffworkflow"], 2)}


def report(database: str, figures: dict[str, float]) -> None:
    print(f"{database}: civicdesk {figures['civicdesk_rps']:.1f} requests/s, SpiffWorkflow "
          f"{figures['spiffworkflow_rps']:.1f} requests/s: civicdesk/SpiffWorkflow = {figures['ratio']:.2f}x",
          flush=True)


def postgresql_through_script(args: argparse.Namespace) -> dict[str, float]:
    """Run the PostgreSQL part again under scripts/with-postgres.sh, which starts a throwaway cluster."""
    command = [str(ROOT / "scripts" / "with-postgres.sh"), sys.executable, str(Path(__file__).resolve()),
               "--database", "postgresql", "--requests", str(args.requests), "--warmup", str(args.warmup),
               "--rounds", str(args.rounds), "--chunk", str(args.chunk), "--delegated"]
    if args.profile:
        command += ["--profile", args.profile]
    print(f"{POSTGRES_URL_VARIABLE} is not set: starting PostgreSQL through scripts/with-postgres.sh", flush=True)
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as child:  # noqa: S603
        assert child.stdout is not None
        last = ""
        for line in child.stdout:
            if line.startswith("{"):
                last = line
            else:
                print(line, end="", flush=True)
    if child.returncode != 0 or not last:
        raise SystemExit(f"the PostgreSQL run failed (exit status {child.returncode})")
    figures: dict[str, float] = json.loads(last)["results"]["postgresql"]
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per side and timed round (default 300)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per side first (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds; each side's best counts (default 3)")
    parser.add_argument("--chunk", type=int, default=25,
                        help="within a round the sides take turns every this many requests (default 25)")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--profile", choices=["civicdesk", "spiffworkflow"],
                        help="print a cProfile of this side's timed requests (to stderr)")
    parser.add_argument("--delegated", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.requests, args.rounds, args.chunk) < 1 or args.warmup < 0:
        parser.error("--requests, --rounds and --chunk must be positive, --warmup not negative")
    os.environ.setdefault("CIVICDESK_ENV", "testing")

    if not args.delegated:
        print(f"engine benchmark: {args.requests} requests per side and round, best of {args.rounds} rounds, sides "
              f"taking turns every {args.chunk} requests, after {args.warmup} warm-up requests each.\n"
              "Each request: submit + 5 steps (register, review, countersign by housing and by urban, reply), "
              "each its own transaction.\n"
              "  civicdesk, per step: app context, request loaded FOR UPDATE, engine, new state + assignees + "
              "one event + one audit record\n"
              "  SpiffWorkflow, per step: SELECT FOR UPDATE, deserialize, complete the lane's user task, engine "
              "steps, serialize, UPDATE + one event row (civicdesk's event write; its audit record and "
              "work-queue rows have no Spiff counterpart)", flush=True)
    results: dict[str, dict[str, float]] = {}
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for database in databases:
        if database == "sqlite":
            with sqlite_database() as url:
                results[database] = measure(database, url, args)
        elif os.environ.get(POSTGRES_URL_VARIABLE):
            with postgresql_database(os.environ[POSTGRES_URL_VARIABLE], "civicdesk_bench") as url:
                results[database] = measure(database, url, args)
        elif not args.delegated:
            results[database] = postgresql_through_script(args)
            continue  # the delegated run reported it
        else:
            raise SystemExit(f"scripts/with-postgres.sh did not set {POSTGRES_URL_VARIABLE}")
        report(database, results[database])
    print(json.dumps({"benchmark": "engine", "requests": args.requests, "results": results}), flush=True)


if __name__ == "__main__":
    main()
