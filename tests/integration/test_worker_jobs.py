"""The worker's other jobs: clean-up of expired tokens, idempotency keys and old messages, scheduled notice
publication, and `civicdesk worker --once`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from service.core.db import db, new_id, utcnow
from service.core.models import AccessToken, IdempotencyKey
from service.notifications import jobs, outbox
from service.notifications.models import OutboxMessage
from service.wechat.fake import FakeWeChatServer
from tests.conftest import count_rows
from tests.integration.notifications_helpers import fake_messages, reset_fake, resident_id


def test_clean_up_removes_what_expired_and_keeps_the_rest(app: Flask) -> None:
    now = utcnow()
    with app.app_context():
        for expires in (now - timedelta(minutes=1), now + timedelta(hours=1)):
            db.session.add(AccessToken(token_hash=new_id(), kind="staff", subject_id=new_id(), expires_at=expires))
            db.session.add(IdempotencyKey(scope="resident:x", key=new_id(), fingerprint="f", state="done",
                                          expires_at=expires))
        outbox.enqueue([
            {**outbox.message("staff", "step_overdue", key, "staff", new_id(), "request", new_id(), {}),
             "status": status, "updated_at": now - timedelta(days=age)}
            for key, status, age in (("old-delivered", "delivered", 91), ("old-dead", "dead", 200),
                                     ("recent-delivered", "delivered", 10), ("old-pending", "pending", 100))])
        db.session.commit()

    removed = jobs.clean_up(app, now)

    assert removed == {"access_tokens": 1, "idempotency_keys": 1, "outbox_messages": 1}
    assert count_rows(app, "access_tokens") == count_rows(app, "idempotency_keys") == 1
    with app.app_context():
        kept = set(db.session.execute(sa.select(OutboxMessage.idempotency_key)).scalars())
    assert kept == {"old-dead", "recent-delivered", "old-pending"}  # dead letters wait for an administrator


def test_scheduled_notice_publication_runs_as_a_job(app: Flask, demo: Flask) -> None:
    from service.accounts.models import Department, Staff
    from service.core.auth import Actor
    from service.notices import operations as notices
    from service.notices.models import Notice

    start = datetime.fromisoformat("2031-03-01T09:00:00+08:00")
    with app.app_context():
        office = db.session.execute(sa.select(Department).where(Department.code == "gov-office")).scalar_one()
        ids = {s.username: s.id for s in db.session.execute(sa.select(Staff)).scalars()}
        author = Actor(kind="staff", id=ids["publisher"], department_id=office.id, roles=frozenset({"publisher"}))
        reviewer = Actor(kind="staff", id=ids["reviewer"], department_id=office.id, roles=frozenset({"reviewer"}))
        notice = notices.create(author, "停水通知", "3月1日停水", "public_notice", at=start)
        notices.act(author, notice.id, "submit", None, {}, notice.version, at=start)
        notices.act(reviewer, notice.id, "approve", None, {"publish_at": start + timedelta(hours=1)}, notice.version,
                    at=start)
        db.session.commit()
        notice_id = notice.id

    assert jobs.publish_notices(app, start + timedelta(minutes=59)) == 0
    assert jobs.publish_notices(app, start + timedelta(hours=1)) == 1
    assert jobs.publish_notices(app, start + timedelta(hours=2)) == 0

    with app.app_context():
        published = db.session.get(Notice, notice_id)
        assert published is not None
        assert published.status == "published"
    assert count_rows(app, "audit_records", action="notice.publish", object_id=notice_id) == 1


def test_worker_once_runs_every_job_and_delivers(app: Flask, resident_token: Callable[[str], str],
                                                fake_wechat: FakeWeChatServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from service import cli

    reset_fake(fake_wechat)
    resident_token("carol")
    with app.app_context():
        carol = resident_id("o-carol")
        from service.core.auth import Actor
        from service.notifications.operations import record_acceptances

        record_acceptances(Actor(kind="resident", id=carol), ["tmpl-request-accepted"])
        outbox.enqueue([outbox.message("wechat", "request_accepted", "once:1", "resident", carol, "request",
                                       new_id(), {"at": utcnow().isoformat()})])
        db.session.commit()
    monkeypatch.setattr(cli, "create_app", lambda: app)

    result = CliRunner().invoke(cli.main, ["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert len(fake_messages(fake_wechat, "o-carol")) == 1
    assert count_rows(app, "outbox_messages", status="delivered") == 1
    reset_fake(fake_wechat)
