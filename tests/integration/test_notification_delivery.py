"""Resident and staff messages, from the event that causes them to the fake WeChat (a real HTTP server) and the
console: the outbox is written with the event, each message is sent once, only with an acceptance, retried and
dead-lettered, and administrators see and retry dead letters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from service.accounts.models import Department
from service.consultations import operations as consultations
from service.core.db import db
from service.core.models import AuditRecord
from service.notifications import outbox
from service.notifications import queries as notification_queries
from service.notifications.channels import Notification, StaffRecipient
from service.notifications.delivery import Deliverer, claim
from service.notifications.models import OutboxMessage, StaffNotification, SubscriptionGrant
from service.requests import operations as requests_ops
from service.wechat.fake import FakeWeChatServer
from tests.conftest import bearer, count_rows
from tests.integration.notifications_helpers import (
    Clock,
    RecordingChannel,
    deliver_all,
    fake_messages,
    fake_stats,
    inject_failures,
    messages,
    reset_fake,
    resident_actor,
    resident_id,
    staff_actor,
)

TEMPLATES = {"request_accepted": "tmpl-request-accepted", "materials_requested": "tmpl-materials-requested",
             "request_completed": "tmpl-request-completed", "request_rejected": "tmpl-request-rejected",
             "consultation_answered": "tmpl-consultation-answered", "follow_up_answered": "tmpl-follow-up-answered"}


@pytest.fixture(autouse=True)
def _clean_fake(fake_wechat: FakeWeChatServer) -> Iterator[None]:
    reset_fake(fake_wechat)
    yield
    reset_fake(fake_wechat)


@pytest.fixture
def accept(client: FlaskClient, resident_token: Callable[[str], str]) -> Callable[..., None]:
    """The resident accepts subscribe messages of these events (once per call, as wx.requestSubscribeMessage)."""

    def accept(name: str, *events: str) -> None:
        token = resident_token(name)
        response = client.post("/mp/v1/subscriptions", json={"accepted": [TEMPLATES[e] for e in events]},
                               headers=bearer(token))
        assert response.status_code in (200, 201), response.get_json()

    return accept


def act(app: Flask, username: str, request_id: str, action: str, **data: Any) -> None:
    with app.app_context():
        request = db.session.get(requests_ops.Request, request_id)
        assert request is not None
        requests_ops.act(staff_actor(username), request_id, action, data.pop("comment", None), data,
                         request.version)
        db.session.commit()


def unused(app: Flask, name: str) -> dict[str, int]:
    with app.app_context():
        return notification_queries.unused_grants(resident_id(f"o-{name}"))


def test_the_message_is_written_with_the_event_and_rolled_back_with_it(app: Flask,
                                                                       submit_request: Callable[..., str]) -> None:
    request_id = submit_request("repair")
    with app.app_context():
        requests_ops.act(staff_actor("urban-handler"), request_id, "accept", None, {}, 1)
        assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one() == 1
        db.session.rollback()
    assert messages(app) == []
    assert count_rows(app, "request_events", request_id=request_id) == 1

    act(app, "urban-handler", request_id, "accept")
    act(app, "urban-handler", request_id, "claim")  # an action that announces nothing queues nothing

    [queued] = messages(app)
    assert (queued.event, queued.channel, queued.status, queued.subject_id) == (
        "request_accepted", "wechat", "pending", request_id)
    assert queued.idempotency_key == f"request_accepted:{request_id}"  # one acceptance per request


def test_each_resident_event_sends_its_template_with_its_data_exactly_once(
        app: Flask, submit_request: Callable[..., str], accept: Callable[..., None],
        fake_wechat: FakeWeChatServer) -> None:
    accept("alice", *TEMPLATES)
    repair = submit_request("repair")
    act(app, "urban-handler", repair, "accept")
    act(app, "urban-handler", repair, "complete", comment="已更换灯泡")
    permit = submit_request("permit")
    act(app, "service-center-handler", permit, "request_materials", items=["营业执照副本"])
    refused = submit_request("permit")
    act(app, "service-center-handler", refused, "reject", comment="不属于本机关职责")
    with app.app_context():
        alice = resident_actor("alice")
        question = consultations.ask(alice, "路灯坏了找谁修？联系电话13812345678", "市政", [])
        db.session.commit()
        handler = staff_actor("service-center-handler")
        consultations.act(handler, question.id, "claim", None, {}, 1)
        consultations.act(handler, question.id, "answer", None, {"answer": "请拨打12345"}, 2)
        rating = requests_ops.rate(alice, repair, 1, "太慢", [])
        db.session.commit()
        requests_ops.answer_follow_up(staff_actor("urban-handler"), rating.id, "已约谈维修队整改", 1)
        db.session.commit()

    outcome = deliver_all(app)
    again = deliver_all(app)

    assert outcome.counts == {"delivered": 7}  # six resident messages and the bad rating's staff notice
    assert again.total == 0
    sent = {m["template_id"]: m for m in fake_messages(fake_wechat, "o-alice")}
    assert len(fake_messages(fake_wechat, "o-alice")) == 6
    assert set(sent) == set(TEMPLATES.values())
    accepted = sent["tmpl-request-accepted"]["data"]
    assert accepted["character_string1"] == {"value": repair.upper()}
    assert accepted["phrase3"] == {"value": "已受理"}
    assert accepted["thing2"]["value"]  # the service's name
    assert sent["tmpl-request-accepted"]["page"] == f"pages/requests/detail?id={repair}"
    assert sent["tmpl-request-completed"]["data"]["thing5"] == {"value": "已更换灯泡"}
    assert sent["tmpl-materials-requested"]["data"]["thing3"] == {"value": "营业执照副本"}
    assert sent["tmpl-materials-requested"]["data"]["character_string1"] == {"value": permit.upper()}
    assert sent["tmpl-request-rejected"]["data"]["phrase3"] == {"value": "不予受理"}
    assert sent["tmpl-request-rejected"]["data"]["thing5"] == {"value": "不属于本机关职责"}
    answered = sent["tmpl-consultation-answered"]
    assert answered["data"]["thing2"] == {"value": "请拨打12345"}
    assert "13812345678" not in str(answered["data"])  # personal data is masked
    assert answered["page"] == f"pages/consultations/detail?id={question.id}"
    assert sent["tmpl-follow-up-answered"]["data"]["thing2"] == {"value": "已约谈维修队整改"}
    assert all(len(v["value"]) <= 20 for m in sent.values() for k, v in m["data"].items() if k.startswith("thing"))
    # each acceptance used up by its one message, each delivery recorded once
    assert unused(app, "alice") == {}
    for message in messages(app, channel="wechat"):
        assert message.status == "delivered"
        assert message.grant_id is not None
        assert count_rows(app, "audit_records", action="notification.delivered", object_id=message.id) == 1


def test_no_acceptance_means_nothing_is_sent(app: Flask, submit_request: Callable[..., str],
                                             accept: Callable[..., None], fake_wechat: FakeWeChatServer) -> None:
    accept("alice", "request_completed")  # accepted another template only
    request_id = submit_request("repair")
    act(app, "urban-handler", request_id, "accept")

    clock = Clock(datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC))
    outcome = deliver_all(app, clock)

    assert outcome.counts == {"skipped": 1}
    assert fake_messages(fake_wechat) == []
    [skipped] = messages(app)
    assert (skipped.status, skipped.last_error, skipped.grant_id) == ("skipped", "no acceptance", None)
    assert skipped.updated_at == clock.now  # the worker's clock, not the wall clock
    assert unused(app, "alice") == {"tmpl-request-completed": 1}
    assert count_rows(app, "audit_records", action="notification.skipped", object_id=skipped.id) == 1


def test_one_acceptance_is_consumed_per_message(app: Flask, submit_request: Callable[..., str],
                                                accept: Callable[..., None], fake_wechat: FakeWeChatServer) -> None:
    accept("alice", "request_accepted")
    first, second = submit_request("repair"), submit_request("repair")
    act(app, "urban-handler", first, "accept")
    act(app, "urban-handler", second, "accept")

    outcome = deliver_all(app)

    assert outcome.counts == {"delivered": 1, "skipped": 1}
    [sent] = fake_messages(fake_wechat)
    assert sent["data"]["character_string1"]["value"] == first.upper()  # the older message got the acceptance
    assert unused(app, "alice") == {}
    with app.app_context():
        grants = db.session.execute(sa.select(SubscriptionGrant)).scalars().all()
        assert [g.consumed_at is not None for g in grants] == [True]


def test_wechat_errors_are_retried_with_backoff_then_dead_lettered_and_retried_by_an_admin(
        app: Flask, client: FlaskClient, submit_request: Callable[..., str], accept: Callable[..., None],
        login_as: Callable[[str], Any], fake_wechat: FakeWeChatServer) -> None:
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_BACKOFF_SECONDS=60)
    accept("alice", "request_accepted")
    request_id = submit_request("repair")
    act(app, "urban-handler", request_id, "accept")
    inject_failures(fake_wechat, -1, 3, "system error")
    sends_before = fake_stats(fake_wechat)["sends"]
    clock = Clock()

    assert deliver_all(app, clock).counts == {"pending": 1}
    [message] = messages(app)
    assert (message.attempts, message.next_attempt_at) == (1, clock.now + timedelta(seconds=60))
    clock.advance(seconds=59)
    assert deliver_all(app, clock).total == 0  # not before its backoff ends
    clock.advance(seconds=2)
    assert deliver_all(app, clock).counts == {"pending": 1}
    [message] = messages(app)
    assert message.next_attempt_at == clock.now + timedelta(seconds=120)  # doubled
    clock.advance(seconds=121)
    assert deliver_all(app, clock).counts == {"dead": 1}
    clock.advance(days=1)
    assert deliver_all(app, clock).total == 0  # dead letters stay put

    [dead] = messages(app)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert "errcode -1" in (dead.last_error or "")
    assert fake_stats(fake_wechat)["sends"] - sends_before == 3
    assert fake_messages(fake_wechat) == []
    assert unused(app, "alice") == {}  # the acceptance stays with its message across attempts

    admin = login_as("admin")
    listed = client.get("/console/v1/outbox", headers=admin)
    assert listed.status_code == 200
    assert [(m["id"], m["status"], m["attempts"]) for m in listed.get_json()["items"]] == [(dead.id, "dead", 3)]
    retried = client.post(f"/console/v1/outbox/{dead.id}/retry", headers=admin)
    assert retried.status_code == 200, retried.get_json()
    assert (retried.get_json()["status"], retried.get_json()["attempts"]) == ("pending", 0)
    again = client.post(f"/console/v1/outbox/{dead.id}/retry", headers=admin)
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert client.post("/console/v1/outbox/nope/retry", headers=admin).status_code == 404
    assert client.get("/console/v1/outbox?status=bogus", headers=admin).status_code == 422

    assert deliver_all(app, clock).counts == {"delivered": 1}
    [sent] = fake_messages(fake_wechat)
    assert sent["template_id"] == "tmpl-request-accepted"
    assert count_rows(app, "audit_records", action="notification.retried", object_id=dead.id) == 1


def test_a_refusal_by_wechat_is_recorded_and_not_retried(app: Flask, submit_request: Callable[..., str],
                                                        accept: Callable[..., None],
                                                        fake_wechat: FakeWeChatServer) -> None:
    accept("alice", "request_accepted")
    request_id = submit_request("repair")
    act(app, "urban-handler", request_id, "accept")
    inject_failures(fake_wechat, 43101, 1, "user refuse to accept the msg")
    clock = Clock()

    assert deliver_all(app, clock).counts == {"refused": 1}
    clock.advance(days=2)
    assert deliver_all(app, clock).total == 0

    [refused] = messages(app)
    assert (refused.status, refused.attempts) == ("refused", 1)
    assert "43101" in (refused.last_error or "")
    assert count_rows(app, "audit_records", action="notification.refused", object_id=refused.id) == 1


def test_the_cli_lists_and_retries_dead_letters(app: Flask, submit_request: Callable[..., str],
                                                accept: Callable[..., None], fake_wechat: FakeWeChatServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from service import cli

    app.config.update(OUTBOX_MAX_ATTEMPTS=1)
    accept("alice", "request_accepted")
    request_id = submit_request("repair")
    act(app, "urban-handler", request_id, "accept")
    inject_failures(fake_wechat, 40037, 1, "invalid template_id")
    assert deliver_all(app).counts == {"dead": 1}
    [dead] = messages(app)
    monkeypatch.setattr(cli, "create_app", lambda: app)
    runner = CliRunner()

    listed = runner.invoke(cli.main, ["outbox", "list"])
    assert listed.exit_code == 0, listed.output
    assert dead.id in listed.output
    assert "40037" in listed.output
    assert runner.invoke(cli.main, ["outbox", "retry"]).exit_code != 0  # nothing named
    both = runner.invoke(cli.main, ["outbox", "retry", dead.id, "--all-dead"])
    assert both.exit_code == 2  # a usage error
    assert "not both" in both.output
    assert messages(app)[0].status == "dead"
    # an unknown id is reported, and does not hold back the one that can be retried
    mixed = runner.invoke(cli.main, ["outbox", "retry", "no-such-message", dead.id])
    assert mixed.exit_code == 1, mixed.output
    assert "no-such-message" in mixed.output
    assert "1 message(s) queued again" in mixed.output
    assert messages(app)[0].status == "pending"
    assert deliver_all(app).counts == {"delivered": 1}
    assert len(fake_messages(fake_wechat)) == 1
    inject_failures(fake_wechat, 40037, 1, "invalid template_id")
    act(app, "urban-handler", submit_request("repair"), "accept")
    accept("alice", "request_accepted")
    assert deliver_all(app).counts == {"dead": 1}
    retried = runner.invoke(cli.main, ["outbox", "retry", "--all-dead"])
    assert retried.exit_code == 0, retried.output
    assert "1 message(s) queued again" in retried.output
    assert deliver_all(app).counts == {"delivered": 1}


def test_staff_hear_of_supervision_countersigns_and_bad_ratings_in_the_console(
        app: Flask, client: FlaskClient, submit_request: Callable[..., str], login_as: Callable[[str], Any]) -> None:
    repair = submit_request("repair")
    supervisor = login_as("urban-supervisor")
    flagged = client.post(f"/console/v1/requests/{repair}/supervisions", json={"comment": "群众反映强烈，请加快"},
                          headers=supervisor)
    assert flagged.status_code == 201, flagged.get_json()
    permit = submit_request("permit")
    act(app, "service-center-handler", permit, "accept")  # on to the countersign of market and environment
    done = submit_request("repair")
    act(app, "urban-handler", done, "accept")
    act(app, "urban-handler", done, "complete")
    with app.app_context():
        requests_ops.rate(resident_actor("alice"), done, 2, None, [])
        db.session.commit()
    channel = RecordingChannel()

    deliver_all(app, channel=channel)

    events = {(username, event) for username, event, _key in channel.sent}
    assert ("urban-supervisor", "request_supervised") not in events  # who flagged it knows
    assert {("urban-handler", "request_supervised"),
            ("market-handler", "countersign_waiting"), ("environment-handler", "countersign_waiting"),
            ("urban-handler", "bad_rating"), ("urban-supervisor", "bad_rating")} <= events
    assert not any(user.startswith("housing") for user, _ in events)
    handler = login_as("urban-handler")
    inbox = client.get("/console/v1/notifications", headers=handler)
    assert inbox.status_code == 200
    body = inbox.get_json()
    assert {n["event"] for n in body["items"]} == {"request_supervised", "bad_rating"}
    assert body["unread"] == 2
    supervised = next(n for n in body["items"] if n["event"] == "request_supervised")
    assert supervised["subject_id"] == repair
    assert "群众反映强烈" in supervised["body"]
    assert client.get("/console/v1/notifications", headers=login_as("market-handler")).get_json()["items"][0][
        "event"] == "countersign_waiting"

    read = client.post("/console/v1/notifications/read", json={"ids": [supervised["id"]]}, headers=handler)
    assert read.get_json() == {"marked": 1}
    assert client.get("/console/v1/notifications?unread=true", headers=handler).get_json()["unread"] == 1
    # somebody else's notification is not mine to mark
    market = client.get("/console/v1/notifications", headers=login_as("market-handler")).get_json()["items"][0]
    assert client.post("/console/v1/notifications/read", json={"ids": [market["id"]]},
                       headers=handler).get_json() == {"marked": 0}
    assert client.post("/console/v1/notifications/read", json={}, headers=handler).get_json() == {"marked": 1}
    assert client.get("/console/v1/notifications?unread=true", headers=handler).get_json() == {
        "items": [], "next_cursor": None, "unread": 0}
    bad = client.post("/console/v1/notifications/read", json={"ids": "all"}, headers=handler)
    assert bad.status_code == 422
    assert bad.mimetype == "application/problem+json"
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(AuditRecord)
                                  .where(AuditRecord.action == "notification.read")).scalar_one() == 2
        # delivered again (at least once), the console still shows each notification once
        db.session.execute(sa.update(OutboxMessage).values(status="pending", attempts=0))
        db.session.commit()
    deliver_all(app, channel=channel)
    with app.app_context():
        per_staff = db.session.execute(
            sa.select(StaffNotification.message_id, StaffNotification.staff_id, sa.func.count())
            .group_by(StaffNotification.message_id, StaffNotification.staff_id)).all()
        assert per_staff
        assert all(count == 1 for _m, _s, count in per_staff)


def test_a_complaint_announces_its_dispatch_and_its_own_supervise_action(
        app: Flask, submit_request: Callable[..., str], accept: Callable[..., None],
        fake_wechat: FakeWeChatServer) -> None:
    accept("alice", "request_accepted")
    complaint = submit_request("complaint")
    act(app, "service-center-handler", complaint, "dispatch", department="urban")  # 派单: accepted
    act(app, "urban-supervisor", complaint, "supervise", comment="限期办结")
    channel = RecordingChannel()

    assert deliver_all(app, channel=channel).counts == {"delivered": 2}

    [accepted] = fake_messages(fake_wechat, "o-alice")
    assert accepted["template_id"] == "tmpl-request-accepted"
    assert {(user, event) for user, event, _ in channel.sent} == {("urban-handler", "request_supervised")}


def test_a_complaint_dispatched_again_after_a_send_back_is_announced_accepted_once(
        app: Flask, submit_request: Callable[..., str], accept: Callable[..., None],
        fake_wechat: FakeWeChatServer) -> None:
    accept("alice", "request_accepted")
    accept("alice", "request_accepted")  # two acceptances: only one may be used
    complaint = submit_request("complaint")
    act(app, "service-center-handler", complaint, "dispatch", department="urban")
    act(app, "urban-handler", complaint, "send_back", comment="不属于本部门")  # 退单
    act(app, "service-center-handler", complaint, "dispatch", department="housing")

    assert deliver_all(app).counts == {"delivered": 1}
    assert len(fake_messages(fake_wechat, "o-alice")) == 1
    assert unused(app, "alice") == {TEMPLATES["request_accepted"]: 1}


def queue_accepted(app: Flask, accept: Callable[..., None], submit_request: Callable[..., str]) -> str:
    """A request-accepted message for alice, with her acceptance; its id."""
    accept("alice", "request_accepted")
    act(app, "urban-handler", submit_request("repair"), "accept")
    [message] = messages(app)
    return message.id


def test_a_message_whose_workers_die_every_attempt_is_dead_lettered(
        app: Flask, submit_request: Callable[..., str], accept: Callable[..., None],
        fake_wechat: FakeWeChatServer) -> None:
    app.config.update(OUTBOX_MAX_ATTEMPTS=2, OUTBOX_LEASE_SECONDS=60)
    message_id = queue_accepted(app, accept, submit_request)
    clock = Clock()
    for attempt in (1, 2):  # a worker claims it and dies (or hangs) before recording anything
        with app.app_context():
            claimed = claim(f"doomed-{attempt}", clock.now, 10, timedelta(seconds=60), 2)
            db.session.commit()
        assert claimed.ids == [message_id]
        [message] = messages(app)
        assert (message.status, message.attempts) == ("sending", attempt)  # counted when claimed
        clock.advance(seconds=61)

    assert deliver_all(app, clock).counts == {"dead": 1}

    [dead] = messages(app)
    assert (dead.status, dead.attempts, dead.claim_token) == ("dead", 2, None)
    assert "no outcome recorded" in (dead.last_error or "")
    assert fake_messages(fake_wechat) == []
    assert count_rows(app, "audit_records", action="notification.dead_lettered", object_id=message_id) == 1


def test_a_failure_after_the_send_is_a_failed_attempt_with_backoff_not_an_endless_resend(
        app: Flask, submit_request: Callable[..., str], accept: Callable[..., None],
        fake_wechat: FakeWeChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_BACKOFF_SECONDS=60)
    queue_accepted(app, accept, submit_request)

    def broken(*_args: Any) -> str:
        raise RuntimeError("the database went away while recording")

    monkeypatch.setattr(Deliverer, "_delivered", broken)
    clock = Clock()

    assert deliver_all(app, clock).counts == {"pending": 1}  # WeChat got it, the outcome could not be recorded
    [message] = messages(app)
    assert (message.status, message.attempts, message.claim_token) == ("pending", 1, None)
    assert message.next_attempt_at == clock.now + timedelta(seconds=60)
    assert "RuntimeError" in (message.last_error or "")
    for _ in range(2):
        clock.advance(hours=1)
        deliver_all(app, clock)

    [dead] = messages(app)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert len(fake_messages(fake_wechat)) == 3  # sent at least once: bounded by the attempts
    clock.advance(days=1)
    assert deliver_all(app, clock).total == 0


def test_the_staff_channel_is_called_only_while_enough_of_the_lease_is_left(app: Flask, demo: Flask) -> None:
    clock = Clock()

    class SlowChannel(RecordingChannel):
        def send(self, recipient: StaffRecipient, notification: Notification, idempotency_key: str) -> None:
            super().send(recipient, notification, idempotency_key)
            clock.advance(seconds=250)  # of the 300 s lease

    with app.app_context():
        urban = db.session.execute(sa.select(Department.id).where(Department.code == "urban")).scalar_one()
        outbox.enqueue([outbox.staff_message("bad_rating", "slow:1", urban, ("handler", "supervisor"), "request",
                                             "r1", {"level": 1}, clock.now)])
        db.session.commit()
    channel = SlowChannel()

    outcome = deliver_all(app, clock, channel)

    # 50 s left after the first recipient: handed back, and the next attempt goes on with the second
    assert outcome.counts == {"released": 1, "delivered": 1}
    assert sorted(user for user, _event, _key in channel.sent) == ["urban-handler", "urban-supervisor"]
    [message] = messages(app)
    assert (message.status, message.attempts) == ("delivered", 1)


def test_a_stopping_worker_finishes_the_message_it_sends_and_hands_the_rest_back(app: Flask, demo: Flask) -> None:
    deliverer = Deliverer(app=app, gateway=app.extensions["wechat"], channel=RecordingChannel(), clock=Clock())

    class StoppingChannel(RecordingChannel):
        def send(self, recipient: StaffRecipient, notification: Notification, idempotency_key: str) -> None:
            super().send(recipient, notification, idempotency_key)
            deliverer.stop()  # SIGTERM arrives while the first message is sent

    deliverer.channel = StoppingChannel()
    with app.app_context():
        urban = db.session.execute(sa.select(Department.id).where(Department.code == "urban")).scalar_one()
        outbox.enqueue([outbox.staff_message("bad_rating", f"stop:{n}", urban, ("handler",), "request", f"r{n}",
                                             {"level": 1}) for n in range(3)])
        db.session.commit()
    deliverer.clock = Clock()

    assert deliverer.run_until_empty().counts == {"delivered": 1, "released": 2}
    assert deliverer.run_once().total == 0  # claims nothing more
    assert sorted((m.status, m.attempts, m.claim_token) for m in messages(app)) == [
        ("delivered", 1, None), ("pending", 0, None), ("pending", 0, None)]


@pytest.mark.postgres
def test_an_acceptance_locked_by_another_transaction_is_waited_for_not_skipped(
        app: Flask, submit_request: Callable[..., str], accept: Callable[..., None],
        fake_wechat: FakeWeChatServer) -> None:
    app.config.update(OUTBOX_BACKOFF_SECONDS=60)
    queue_accepted(app, accept, submit_request)
    clock = Clock()
    # another sender holds alice's only acceptance, then rolls back
    with app.app_context(), db.engine.connect() as other:
        other.execute(sa.select(SubscriptionGrant.id).with_for_update())
        assert deliver_all(app, clock).counts == {"pending": 1}
        other.rollback()
    [waiting] = messages(app)
    assert (waiting.status, waiting.grant_id) == ("pending", None)
    assert unused(app, "alice") == {TEMPLATES["request_accepted"]: 1}

    clock.advance(seconds=61)
    assert deliver_all(app, clock).counts == {"delivered": 1}
    assert len(fake_messages(fake_wechat, "o-alice")) == 1
