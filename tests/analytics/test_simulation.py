"""``demo simulate``: a reproducible history through the real engine, with the traits of a real one."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Flask

from service.analytics.simulation import simulate
from service.core.db import db
from service.engine import runtime
from service.engine.serialize import state_from_dict
from service.processes.queries import definition_by_id
from service.requests.models import Rating, Request, RequestEvent
from service.requests.operations import event_of

UNTIL = date(2026, 6, 30)


def _fingerprint() -> list[tuple[Any, ...]]:
    rows = db.session.execute(
        sa.select(RequestEvent.request_id, RequestEvent.seq, RequestEvent.action, RequestEvent.at,
                  RequestEvent.actor_department, RequestEvent.to_step)
        .order_by(RequestEvent.request_id, RequestEvent.seq)).all()
    return [tuple(r) for r in rows]


def _forget_simulation() -> None:
    for table in ("ratings", "request_assignees", "request_events", "requests"):
        db.session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (fixed names)
    db.session.execute(sa.text("DELETE FROM residents WHERE openid LIKE 'sim-%'"))
    db.session.commit()


def test_same_seed_same_history_other_seed_other_history(demo: Flask) -> None:
    with demo.app_context():
        first = simulate(150, 40, seed=5, until=UNTIL, batch=40)
        history = _fingerprint()
        _forget_simulation()
        again = simulate(150, 40, seed=5, until=UNTIL, batch=40)
        assert again == first
        assert _fingerprint() == history
        _forget_simulation()
        simulate(150, 40, seed=6, until=UNTIL)
        assert _fingerprint() != history


def test_a_realistic_history_through_the_engine(demo: Flask) -> None:
    with demo.app_context():
        report = simulate(600, 60, seed=11, until=UNTIL)
        assert report.requests == 600
        assert report.events == db.session.execute(sa.select(sa.func.count()).select_from(RequestEvent)).scalar()

        actions = dict(db.session.execute(
            sa.select(RequestEvent.action, sa.func.count()).group_by(RequestEvent.action)).all())
        for action in ("request_materials", "supplement", "transfer", "countersign", "send_back", "dispatch",
                       "withdraw", "reject"):
            assert actions.get(action, 0) > 0, action
        assert 0 < report.late < report.requests * 0.3
        assert 0 < report.open_at_end < report.requests
        # arrivals fall mostly on working days
        submitted = db.session.execute(sa.select(Request.submitted_at)).scalars().all()
        weekend = sum(1 for s in submitted if s.astimezone(runtime_tz()).weekday() >= 5)
        assert weekend < len(submitted) * 0.1
        levels = dict(db.session.execute(sa.select(Rating.level, sa.func.count()).group_by(Rating.level)).all())
        assert levels.get(5, 0) > levels.get(4, 0) > levels.get(1, 0)
        assert levels.get(1, 0) + levels.get(2, 0) > 0

        # the rows are what the engine makes of the events: replaying them rebuilds the stored state
        for request in db.session.execute(sa.select(Request).limit(40)).scalars():
            events = db.session.execute(sa.select(RequestEvent).where(RequestEvent.request_id == request.id)
                                        .order_by(RequestEvent.seq)).scalars().all()
            replayed = runtime.replay(definition_by_id(request.process_version_id), [event_of(e) for e in events])
            assert replayed == state_from_dict(request.state)
            assert replayed.step == request.current_step


def runtime_tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def test_the_command(demo: Flask, monkeypatch) -> None:
    from click.testing import CliRunner

    from service import cli

    monkeypatch.setattr(cli, "create_app", lambda: demo)
    command = ["demo", "simulate", "--requests", "40", "--days", "10", "--seed", "2", "--until", "2026-06-30"]

    result = CliRunner().invoke(cli.main, command)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("simulated 40 requests")
    with demo.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(Request)).scalar() == 40
    again = CliRunner().invoke(cli.main, command)
    assert again.exit_code != 0
    assert "seed 2" in again.output


def test_by_default_the_history_ends_yesterday_and_nothing_lies_in_the_future(demo: Flask) -> None:
    from datetime import datetime, timedelta

    import pytest

    from service.core.db import utcnow
    from service.core.errors import ValidationFailed

    with demo.app_context():
        today = datetime.now(runtime_tz()).date()
        with pytest.raises(ValidationFailed):
            simulate(5, 3, seed=21, until=today + timedelta(days=1))
        report = simulate(60, 3, seed=22)
        assert report.last_day == today - timedelta(days=1)
        latest = db.session.execute(sa.select(sa.func.max(RequestEvent.at))).scalar_one()
        assert latest < datetime.combine(today, datetime.min.time(), tzinfo=runtime_tz())
        _forget_simulation()
        simulate(60, 3, seed=23, until=today)  # today: up to now, not to midnight tonight
        assert db.session.execute(sa.select(sa.func.max(RequestEvent.at))).scalar_one() <= utcnow()
        assert db.session.execute(sa.select(sa.func.max(Request.submitted_at))).scalar_one() <= utcnow()
