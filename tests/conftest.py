"""Fixtures: a migrated database (SQLite, or PostgreSQL when CIVICDESK_TEST_DATABASE_URL is set), the fake
WeChat as a real HTTP server, an app and client per test, and helpers to sign in as residents and staff."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings as settings_profiles

from service import create_app
from service.core.db import db
from service.core.ratelimit import limiter
from service.wechat.fake import FakeWeChatServer

os.environ.setdefault("CIVICDESK_ENV", "testing")

# In CI the property tests replay the same examples every run (a clean clone has no example database to learn
# from); on a developer's machine they explore anew and remember what failed.
settings_profiles.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings_profiles.load_profile("ci")
DEMO_PASSWORD = "correct-horse-battery"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` (query plans, PostgreSQL-only behaviour) run in the PostgreSQL pass only."""
    if os.environ.get("CIVICDESK_TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("CIVICDESK_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'civicdesk.sqlite3'}"


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture(scope="session")
def settings(database_url: str, fake_wechat: FakeWeChatServer, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "WECHAT_BASE_URL": fake_wechat.base_url,
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
        "REDIS_URL": "",
    }


@pytest.fixture(scope="session")
def migrated(settings: dict[str, Any]) -> None:
    from service import migrations

    app = create_app(settings, "testing")
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrations.upgrade(app)
    with app.app_context():
        db.engine.dispose()


def _empty_tables() -> None:
    tables = list(db.metadata.sorted_tables)
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(tables):
                connection.execute(table.delete())


@pytest.fixture
def app(settings: dict[str, Any], migrated: None) -> Iterator[Flask]:
    app = create_app(settings, "testing")
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def departments(app: Flask) -> dict[str, str]:
    """Two departments under a root: code -> id."""
    from service.accounts import operations
    from service.core.auth import SYSTEM

    with app.app_context():
        root = operations.create_department(SYSTEM, "district", "示范区人民政府", None)
        urban = operations.create_department(SYSTEM, "urban", "区城市管理局", root.id)
        housing = operations.create_department(SYSTEM, "housing", "区住房和城乡建设局", root.id)
        db.session.commit()
        return {"district": root.id, "urban": urban.id, "housing": housing.id}


@pytest.fixture
def make_staff(app: Flask, departments: dict[str, str]) -> Callable[..., dict[str, Any]]:
    from service.accounts import operations
    from service.core.auth import SYSTEM

    def make(username: str, department: str = "urban", roles: tuple[str, ...] = ("handler",),
             password: str = DEMO_PASSWORD) -> dict[str, Any]:
        with app.app_context():
            staff = operations.create_staff(SYSTEM, username=username, password=password,
                                            department_id=departments[department], roles=list(roles))
            db.session.commit()
            return {"id": staff.id, "username": username, "password": password,
                    "department_id": departments[department]}

    return make


PROBLEM = "application/problem+json"


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json body of an error response with ``status``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff_token(client: FlaskClient, make_staff: Callable[..., dict[str, Any]]) -> Callable[..., str]:
    def login(username: str, department: str = "urban", roles: tuple[str, ...] = ("handler",)) -> str:
        make_staff(username, department, roles)
        response = client.post("/console/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 200, response.get_json()
        return str(response.get_json()["token"])

    return login


@pytest.fixture
def resident_token(client: FlaskClient) -> Callable[[str], str]:
    def login(name: str) -> str:
        response = client.post("/mp/v1/auth/login", json={"code": f"dev-{name}"})
        assert response.status_code == 200, response.get_json()
        return str(response.get_json()["token"])

    return login


def count_rows(app: Flask, table: str, **where: Any) -> int:
    with app.app_context():
        stmt = sa.select(sa.func.count()).select_from(sa.table(table))
        for column, value in where.items():
            stmt = stmt.where(sa.column(column) == value)
        return int(db.session.execute(stmt).scalar_one())


@pytest.fixture
def demo(app: Flask) -> Flask:
    """The demo district: departments, calendar, built-in processes and catalog, demo staff accounts."""
    from service.demo import load_demo

    with app.app_context():
        load_demo(DEMO_PASSWORD)
        db.session.commit()
    return app


@pytest.fixture
def login_as(client: FlaskClient, demo: Flask) -> Callable[[str], dict[str, str]]:
    """Sign a demo staff account in; returns the Authorization header."""
    tokens: dict[str, str] = {}

    def login(username: str) -> dict[str, str]:
        if username not in tokens:
            response = client.post("/console/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
            assert response.status_code == 200, response.get_json()
            tokens[username] = response.get_json()["token"]
        return bearer(tokens[username])

    return login


@pytest.fixture
def submit_request(app: Flask, demo: Flask, resident_token: Callable[[str], str]) -> Callable[..., str]:
    """Submit a request of a built-in service as a resident (through the requests operations); returns its id."""
    from service.catalog.models import Service
    from service.core.auth import Actor
    from service.requests import operations

    def submit(service_code: str, resident: str = "alice", at: Any = None) -> str:
        resident_token(resident)
        with app.app_context():
            from service.accounts.models import Resident

            resident_id = db.session.execute(
                sa.select(Resident.id).where(Resident.openid == f"o-{resident}")).scalar_one()
            service = db.session.execute(sa.select(Service).where(Service.code == service_code)).scalar_one()
            request = operations.submit(Actor(kind="resident", id=resident_id), service, {}, {}, at)
            db.session.commit()
            return request.id

    return submit
