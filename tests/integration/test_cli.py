"""The installed ``civicdesk`` command, run as a subprocess against a SQLite file of its own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app, migrations
from service.core.db import db
from service.core.ratelimit import limiter
from service.demo import DEFAULT_DEMO_PASSWORD, DEPARTMENTS

CIVICDESK = os.path.join(os.path.dirname(sys.executable), "civicdesk")
OWN_PASSWORD = "own-demo-password-42"


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "cli.sqlite3"


def run(db_file: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("CIVICDESK_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    environment.update({
        "CIVICDESK_ENV": "development",
        "CIVICDESK_DATABASE_URL": f"sqlite:///{db_file}",
        # Cheap password hashes keep the demo load fast; hashing itself is not what is tested here.
        "CIVICDESK_ARGON2_TIME_COST": "1",
        "CIVICDESK_ARGON2_MEMORY_COST_KIB": "1024",
    })
    environment.update(env or {})
    return subprocess.run(
        [CIVICDESK, *args], env=environment, cwd=db_file.parent, input=stdin, capture_output=True, text=True,
        timeout=60, check=False,
    )


def query(db_file: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_file) as connection:
        return connection.execute(sql).fetchall()


def tables(db_file: Path) -> set[str]:
    return {name for (name,) in query(db_file, "SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.fixture
def app_on(settings: dict[str, Any]) -> Iterator[Any]:
    """An in-process app on the CLI's database, to check what the command left there."""
    apps: list[Flask] = []

    def make(db_file: Path) -> Flask:
        app = create_app(settings | {"DATABASE_URL": f"sqlite:///{db_file}"}, "testing")
        limiter.reset()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _login(app: Flask, username: str, password: str) -> Any:
    return app.test_client().post("/console/v1/auth/login", json={"username": username, "password": password})


def _expected_accounts() -> list[str]:
    names = ["admin", "publisher", "reviewer"]
    for code, _name, _parent in DEPARTMENTS:
        names += [f"{code}-handler", f"{code}-supervisor"]
    return names


def test_upgrade_demo_load_staff_create_and_demo_load_again(db_file: Path, app_on: Any) -> None:
    upgraded = run(db_file, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert {"departments", "staff", "audit_records", "alembic_version"} <= tables(db_file)

    loaded = run(db_file, "demo", "load")
    assert loaded.returncode == 0, loaded.stderr
    lines = loaded.stdout.splitlines()
    assert DEFAULT_DEMO_PASSWORD in lines[0]
    listed = [line.split()[0] for line in lines[1:]]
    assert listed == _expected_accounts()
    assert "existed already" not in loaded.stdout
    departments = query(db_file, "SELECT code, id FROM departments ORDER BY code")
    assert [code for code, _ in departments] == sorted(code for code, _n, _p in DEPARTMENTS)

    created = run(db_file, "staff", "create", "--username", "x", "--department", "urban", "--role", "handler",
                  "--password-stdin", stdin="x-has-a-long-password\n")
    assert created.returncode == 0, created.stderr
    assert "created staff x" in created.stdout
    too_short = run(db_file, "staff", "create", "--username", "y", "--department", "urban", "--role", "handler",
                    "--password-stdin", stdin="short\n")
    assert too_short.returncode != 0
    assert "password" in too_short.stderr.lower()
    assert query(db_file, "SELECT count(*) FROM staff WHERE username = 'y'") == [(0,)]

    again = run(db_file, "demo", "load")
    assert again.returncode == 0, again.stderr
    account_lines = again.stdout.splitlines()[1:]
    assert [line.split()[0] for line in account_lines] == _expected_accounts()
    assert all(line.endswith("(existed already)") for line in account_lines)
    assert query(db_file, "SELECT code, id FROM departments ORDER BY code") == departments
    assert query(db_file, "SELECT count(*) FROM staff") == [(len(_expected_accounts()) + 1,)]

    app = app_on(db_file)
    assert _login(app, "admin", DEFAULT_DEMO_PASSWORD).get_json()["staff"]["roles"] == ["admin"]
    assert _login(app, "urban-supervisor", DEFAULT_DEMO_PASSWORD).status_code == 200
    x = _login(app, "x", "x-has-a-long-password").get_json()["staff"]
    assert x["roles"] == ["handler"]
    assert x["department_id"] == dict(departments)["urban"]


def test_demo_load_outside_development_needs_the_flag_and_an_own_password(db_file: Path, app_on: Any) -> None:
    migrations.upgrade(app_on(db_file))
    production = {"CIVICDESK_ENV": "production", "CIVICDESK_SECRET_KEY": "a-real-secret-for-this-test"}

    without_flag = run(db_file, "demo", "load", env=production)
    without_password = run(db_file, "demo", "load", "--allow-outside-development", env=production)
    default_password = run(db_file, "demo", "load", "--allow-outside-development",
                           env=production | {"CIVICDESK_DEMO_PASSWORD": DEFAULT_DEMO_PASSWORD})

    for refused in (without_flag, without_password, default_password):
        assert refused.returncode != 0
        assert "Traceback" not in refused.stderr
    assert "--allow-outside-development" in without_flag.stderr
    assert "CIVICDESK_DEMO_PASSWORD" in without_password.stderr
    assert "CIVICDESK_DEMO_PASSWORD" in default_password.stderr
    assert query(db_file, "SELECT count(*) FROM staff") == [(0,)]
    assert query(db_file, "SELECT count(*) FROM departments") == [(0,)]

    loaded = run(db_file, "demo", "load", "--allow-outside-development",
                 env=production | {"CIVICDESK_DEMO_PASSWORD": OWN_PASSWORD})
    assert loaded.returncode == 0, loaded.stderr
    assert OWN_PASSWORD not in loaded.stdout + loaded.stderr
    app = app_on(db_file)
    assert _login(app, "admin", OWN_PASSWORD).status_code == 200
    assert _login(app, "admin", DEFAULT_DEMO_PASSWORD).status_code == 401


def test_downgrade_to_base_and_upgrade_again(db_file: Path, app_on: Any) -> None:
    migrations.upgrade(app_on(db_file))  # (the command's upgrade is run above and below)
    assert "staff" in tables(db_file)

    down = run(db_file, "db", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert tables(db_file) <= {"alembic_version"}

    up = run(db_file, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert {"departments", "staff", "staff_roles", "residents", "access_tokens", "idempotency_keys",
            "audit_records"} <= tables(db_file)
    assert query(db_file, "SELECT count(*) FROM alembic_version") == [(1,)]
