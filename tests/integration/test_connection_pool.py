"""PostgreSQL connections in the pool: pinged only after lying idle, replaced when the server has cut them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from service import create_app
from service.core.db import db

pytestmark = pytest.mark.postgres
AppFactory = Callable[[float], Flask]


@pytest.fixture
def pool_app(settings: dict[str, Any], migrated: None) -> Iterator[AppFactory]:
    def make(idle_seconds: float) -> Flask:
        app = create_app({**settings, "DATABASE_PING_AFTER_IDLE_SECONDS": idle_seconds}, "testing")
        made.append(app)
        return app

    made: list[Flask] = []
    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _backend_pid(app: Flask) -> int:
    with app.app_context():
        pid = int(db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        db.session.commit()
    return pid


def _count_pings(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    with app.app_context():
        dialect = db.engine.dialect
    pings: list[int] = []
    original = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


def test_a_connection_used_a_moment_ago_is_not_pinged(pool_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    app = pool_app(60.0)
    pings = _count_pings(app, monkeypatch)
    pids = {_backend_pid(app) for _ in range(5)}
    assert pings == []
    assert len(pids) == 1  # one pooled connection, reused by each transaction


def test_an_idle_connection_is_pinged_before_use(pool_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    app = pool_app(0.05)
    pings = _count_pings(app, monkeypatch)
    _backend_pid(app)  # a fresh connection: nothing to ping
    assert pings == []
    time.sleep(0.1)
    _backend_pid(app)
    assert len(pings) == 1


def test_an_idle_connection_the_server_cut_is_replaced(pool_app: AppFactory, settings: dict[str, Any]) -> None:
    app = pool_app(0.05)
    first = _backend_pid(app)
    killer = sa.create_engine(settings["DATABASE_URL"], isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as connection:
            assert connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
    finally:
        killer.dispose()
    time.sleep(0.1)
    second = _backend_pid(app)  # the ping found the connection dead; the pool drew a new one
    assert second != first
