"""``civicdesk worker`` as a real process against the database of the suite (SQLite file or PostgreSQL) and a
fake WeChat that answers slowly: killed in the middle of a batch and restarted, it delivers every message at
least once and records each delivered exactly once; two workers on PostgreSQL never send a message twice; the
workers and the web process share WeChat's stable access token without invalidating each other's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask, request

from service.core.db import db, new_id, read_only_intent, utcnow
from service.core.models import AuditRecord
from service.notifications import outbox
from service.notifications.models import OutboxMessage, SubscriptionGrant
from service.wechat import WeChatGateway
from service.wechat.fake import FakeWeChatServer, create_fake_app
from tests.integration.notifications_helpers import fake_messages, fake_stats, resident_id

REPO_ROOT = Path(__file__).resolve().parents[2]
SEND_DELAY_SECONDS = 0.15
APP_ID = "wx-civicdesk-worker-test"
SECRET = "worker-test-secret"


@pytest.fixture
def slow_fake() -> Iterator[FakeWeChatServer]:
    """A fake WeChat of its own whose subscribe/send takes SEND_DELAY_SECONDS, so a kill lands mid-batch."""
    fake_app = create_fake_app(credentials={APP_ID: SECRET})

    @fake_app.before_request
    def _slowly() -> None:
        if request.path.endswith("/subscribe/send"):
            time.sleep(SEND_DELAY_SECONDS)

    with FakeWeChatServer(app=fake_app) as server:
        yield server


def queue_messages(app: Flask, resident_token: Callable[[str], str], count: int) -> list[str]:
    """``count`` request-accepted messages for alice, each with an acceptance; their subjects' ids."""
    resident_token("alice")
    subjects = [new_id() for _ in range(count)]
    with app.app_context():
        alice = resident_id("o-alice")
        db.session.add_all(SubscriptionGrant(resident_id=alice, template_id="tmpl-request-accepted")
                           for _ in subjects)
        outbox.enqueue([outbox.message("wechat", "request_accepted", f"request_accepted:{s}:2", "resident", alice,
                                       "request", s, {"action": "accept", "at": utcnow().isoformat()})
                        for s in subjects])
        db.session.commit()
    return subjects


def start_worker(settings: dict[str, Any], fake: FakeWeChatServer, log: Path, batch: int,
                 lease: float = 3) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CIVICDESK_ENV": "testing", "CIVICDESK_DATABASE_URL": settings["DATABASE_URL"],
           "CIVICDESK_UPLOAD_DIR": settings["UPLOAD_DIR"], "CIVICDESK_REDIS_URL": "",
           "CIVICDESK_WECHAT_BASE_URL": fake.base_url, "CIVICDESK_WECHAT_APP_ID": APP_ID,
           "CIVICDESK_WECHAT_APP_SECRET": SECRET, "CIVICDESK_WORKER_POLL_SECONDS": "0.1",
           "CIVICDESK_OUTBOX_BATCH_SIZE": str(batch), "CIVICDESK_OUTBOX_LEASE_SECONDS": str(lease),
           "CIVICDESK_LOG_LEVEL": "INFO", "CIVICDESK_REMINDER_INTERVAL_SECONDS": "3600"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "service.cli", "worker"], cwd=REPO_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.05)


def statuses(app: Flask) -> Counter[str]:
    """The messages by status, read without write intent (on SQLite no BEGIN IMMEDIATE against the worker)."""
    with app.app_context(), read_only_intent():
        rows = db.session.execute(sa.select(OutboxMessage.status)).scalars().all()
        db.session.remove()
    return Counter(rows)


def stop(worker: subprocess.Popen[bytes], timeout: float = 20) -> int:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout``; its exit code (-9 when it had to be killed)."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)
        return -signal.SIGKILL


def delivered_records(app: Flask) -> Counter[str]:
    with app.app_context(), read_only_intent():
        rows = db.session.execute(sa.select(AuditRecord.object_id)
                                  .where(AuditRecord.action == "notification.delivered")).scalars().all()
        db.session.remove()
    return Counter(rows)


def test_a_worker_killed_mid_batch_and_restarted_delivers_everything_and_records_it_once(
        app: Flask, settings: dict[str, Any], resident_token: Callable[[str], str], slow_fake: FakeWeChatServer,
        tmp_path: Path) -> None:
    subjects = queue_messages(app, resident_token, 10)
    log = tmp_path / "worker.log"
    # one batch holds every message and takes 10 x 0.15 s to send: there is no "between two batches" to land in
    worker = start_worker(settings, slow_fake, log, batch=len(subjects))
    try:
        wait_for(lambda: fake_stats(slow_fake)["messages"] >= 2, 30, "the first sends", log)
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
        at_kill = statuses(app)
        assert at_kill["sending"] >= 1, at_kill  # claimed and not finished when it died
        assert at_kill["delivered"] < len(subjects)

        worker = start_worker(settings, slow_fake, log, batch=4)
        wait_for(lambda: statuses(app)["delivered"] == len(subjects), 40, "every message delivered", log)
    finally:
        exit_code = stop(worker)
    assert exit_code == 0  # SIGTERM stops it cleanly

    sent = Counter(m["data"]["character_string1"]["value"] for m in fake_messages(slow_fake, "o-alice"))
    assert set(sent) == {s.upper() for s in subjects}  # at least once each
    assert all(n >= 1 for n in sent.values())
    records = delivered_records(app)
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxMessage)).scalars().all()
        assert {r.status for r in rows} == {"delivered"}
        assert all(records[r.id] == 1 for r in rows)  # recorded delivered exactly once
        # one acceptance per message, even for a message sent twice
        consumed = db.session.execute(sa.select(sa.func.count()).select_from(SubscriptionGrant)
                                      .where(SubscriptionGrant.consumed_at.is_not(None))).scalar_one()
        assert consumed == len(subjects)
        assert len({r.grant_id for r in rows}) == len(subjects)

    # the web process's gateway shares WeChat's stable token with the two workers: one token was ever issued,
    # and it still works for everyone
    with WeChatGateway(APP_ID, SECRET, slow_fake.base_url) as web:
        assert isinstance(web.send_subscribe_message("o-bob", "tmpl-request-accepted", {"thing1": "ok"}), int)
    assert fake_stats(slow_fake)["tokens_issued"] == 1


def test_sigterm_in_the_middle_of_a_batch_stops_the_worker_at_once_and_hands_the_rest_back(
        app: Flask, settings: dict[str, Any], resident_token: Callable[[str], str], slow_fake: FakeWeChatServer,
        tmp_path: Path) -> None:
    subjects = queue_messages(app, resident_token, 24)  # one batch: 24 x 0.15 s = 3.6 s to send it all
    log = tmp_path / "worker.log"
    worker = start_worker(settings, slow_fake, log, batch=len(subjects), lease=60)
    try:
        wait_for(lambda: fake_stats(slow_fake)["messages"] >= 2, 30, "the first sends", log)
        worker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = stop(worker, timeout=1.5)  # the message being sent, and no more
        took = time.monotonic() - started
    finally:
        stop(worker)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert took < 1.5

    left = statuses(app)
    assert "sending" not in left, left  # nothing stays claimed by a worker that is gone
    assert 2 <= left["delivered"] < len(subjects)
    assert left["delivered"] + left["pending"] == len(subjects)
    with app.app_context(), read_only_intent():
        attempts = db.session.execute(sa.select(OutboxMessage.attempts)
                                      .where(OutboxMessage.status == "pending")).scalars().all()
        db.session.remove()
    assert set(attempts) == {0}  # handed back unsent: no attempt counted
    assert len(fake_messages(slow_fake, "o-alice")) == left["delivered"]


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_deliver_the_same_message_twice(
        app: Flask, settings: dict[str, Any], resident_token: Callable[[str], str], slow_fake: FakeWeChatServer,
        tmp_path: Path) -> None:
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    workers: list[subprocess.Popen[bytes]] = []
    codes: list[int] = []
    try:
        workers.extend(start_worker(settings, slow_fake, log, batch=3) for log in logs)
        for log in logs:  # both are polling before there is anything to take
            wait_for(lambda log=log: b"worker started" in log.read_bytes(), 30, "the workers to start", log)
        subjects = queue_messages(app, resident_token, 24)
        wait_for(lambda: statuses(app)["delivered"] == len(subjects), 40, "every message delivered", logs[0])
    finally:
        for w in workers:  # each one stopped (killed if need be), whatever happened to the other
            codes.append(stop(w))
    assert codes == [0, 0]

    sent = Counter(m["data"]["character_string1"]["value"] for m in fake_messages(slow_fake, "o-alice"))
    assert sent == Counter({s.upper(): 1 for s in subjects})  # each exactly once at WeChat
    records = delivered_records(app)
    assert sorted(records.values()) == [1] * len(subjects)
    with app.app_context():
        by_worker = Counter(str(data["worker"]) for data in db.session.execute(
            sa.select(AuditRecord.data).where(AuditRecord.action == "notification.delivered")).scalars())
    assert len(by_worker) == 2, by_worker  # both took part


def test_the_web_app_never_starts_the_scheduler(settings: dict[str, Any]) -> None:
    code = ("import sys; from service import create_app; create_app({'DATABASE_URL': 'sqlite://'}, 'testing'); "
            "import wsgi; assert 'apscheduler' not in sys.modules, 'the web app imported the scheduler'")
    env = {**os.environ, "CIVICDESK_ENV": "testing", "CIVICDESK_DATABASE_URL": "sqlite://",
           "CIVICDESK_SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()


def test_web_and_worker_gateways_never_invalidate_each_others_tokens(fake_wechat: FakeWeChatServer) -> None:
    """Each process keeps its own cache (or shares Redis); WeChat's stable token is the same for all of them, and
    replacing an expired one never revokes the replacement another process fetched."""
    app_id = f"wx-shared-{new_id()[-8:]}"
    before = fake_stats(fake_wechat)["tokens_issued"]
    with WeChatGateway(app_id, SECRET, fake_wechat.base_url) as web, \
            WeChatGateway(app_id, SECRET, fake_wechat.base_url) as worker:
        web.send_subscribe_message("o-web", "tmpl", {"thing1": "web"})
        worker.send_subscribe_message("o-worker", "tmpl", {"thing1": "worker"})
        web.send_subscribe_message("o-web", "tmpl", {"thing1": "web again"})
        assert fake_stats(fake_wechat)["tokens_issued"] == before + 1  # one token for both processes

        requests.post(f"{fake_wechat.base_url}__fake__/expire-tokens", timeout=5).raise_for_status()
        worker.send_subscribe_message("o-worker", "tmpl", {"thing1": "after expiry"})  # fetches a new one
        web.send_subscribe_message("o-web", "tmpl", {"thing1": "after expiry"})  # gets that same new one
        worker.send_subscribe_message("o-worker", "tmpl", {"thing1": "still valid"})

    assert fake_stats(fake_wechat)["tokens_issued"] == before + 2
    assert [m["data"]["thing1"]["value"] for m in fake_messages(fake_wechat, "o-worker")][-2:] == [
        "after expiry", "still valid"]
