"""Delivering the outbox: claim a batch, send each message, record the outcome; at least once, never in parallel.

A worker claims due messages in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers take disjoint batches; SQLite's ``BEGIN IMMEDIATE`` serialises the claim), marking them ``sending``
until its lease runs out and counting the attempt there and then. It then sends each one outside any
transaction and records the outcome conditionally on still holding the claim. A worker that dies or hangs
leaves its claims to run out, and another worker (or itself, restarted) sends those messages again, as long
as attempts are left: a message whose claim ran out with ``OUTBOX_MAX_ATTEMPTS`` attempts counted is
dead-lettered instead of being sent once more. So a message is *sent* at least once (and may reach its receiver
twice: after a takeover, or when WeChat took it but the answer timed out), it is *recorded* delivered exactly
once, and two live workers never hold the same message: a worker never starts a delivery with less than half
its lease left, nor a staff channel call with less than a quarter.

A resident's message uses up one acceptance of its template (``consume_grant``) the first time it is tried; the
grant stays with the message across retries. Without an acceptance the message is ``skipped`` (but retried
later when the acceptance is only held by another transaction); WeChat's refusal (43101) is ``refused``; other
errors are retried with exponential backoff and dead-lettered after ``OUTBOX_MAX_ATTEMPTS`` attempts, or at
once for errors no retry can cure (a bad template id or openid). The worker stops between two messages when
asked to (``Deliverer.stop``) and hands the rest of its batch back unsent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.dialects import postgresql, sqlite

from service.accounts.models import Resident, Staff, StaffRole
from service.core import audit
from service.core.auth import SYSTEM
from service.core.db import db, new_id, reset_write_intent, set_write_intent, utcnow
from service.notifications.channels import ChannelError, Notification, StaffChannel, StaffRecipient
from service.notifications.messages import staff_text, subscribe_message
from service.notifications.models import OutboxMessage, StaffNotification
from service.notifications.operations import consume_grant
from service.notifications.queries import template_for, unused_grants
from service.wechat import WeChatError, WeChatGateway

logger = logging.getLogger("civicdesk.worker")

# 43101: the user refused the message (no acceptance left on WeChat's side). Final, never retried.
REFUSED_ERRCODES = frozenset({43101})
# Errors in what we send (openid, template, data, page): a retry sends the same and fails the same.
PERMANENT_ERRCODES = frozenset({40003, 40037, 41028, 41030, 47001, 47003})

_NOTIFICATIONS: sa.Table = StaffNotification.__table__  # type: ignore[assignment]
_INSERT_NOTIFICATIONS = {
    "postgresql": postgresql.insert(_NOTIFICATIONS).on_conflict_do_nothing(index_elements=["message_id", "staff_id"]),
    "sqlite": sqlite.insert(_NOTIFICATIONS).on_conflict_do_nothing(index_elements=["message_id", "staff_id"]),
}
# A staff channel call starts only with at least this share of the lease left (an adapter's own time limit per
# call must stay well below it: 75 s of the default 5 min lease); otherwise the message is handed back, the
# recipients it reached remembered (payload "sent_to"), and the next attempt goes on from there.
CHANNEL_LEASE_SHARE = 4


@dataclass
class Outcome:
    """What a round of delivery did, by the status each message ended in (``released``: handed back unsent)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _Failure(Exception):
    def __init__(self, error: str, status: str | None = None, sent_to: Sequence[str] = ()) -> None:
        super().__init__(error)
        self.error = error
        self.status = status  # "refused" or "dead" when no retry may follow
        self.sent_to = list(sent_to)  # staff the channel reached before it failed


class _LeaseShort(Exception):
    """Too little of the claim is left for another staff channel call: hand the message back, keep the progress."""

    def __init__(self, sent_to: Sequence[str]) -> None:
        super().__init__("lease running out")
        self.sent_to = list(sent_to)


@dataclass
class Claim:
    """A claimed batch: the messages to send under ``token``, and those dead-lettered instead."""

    token: str
    ids: list[str]
    dead: list[str]


@dataclass
class Deliverer:
    """Delivers the outbox of ``app`` (one per worker process; ``clock`` injectable for tests)."""

    app: Flask
    gateway: WeChatGateway
    channel: StaffChannel
    worker_id: str = field(default_factory=lambda: f"worker-{new_id()}")
    clock: Callable[[], datetime] = utcnow
    stopping: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        """Finish the message being sent, hand the rest of the batch back, claim nothing more (SIGTERM)."""
        self.stopping.set()

    def run_once(self, limit: int | None = None) -> Outcome:
        """Claim one batch and deliver it; returns what became of each message."""
        outcome = Outcome()
        if self.stopping.is_set():
            return outcome
        with self.app.app_context():
            config = current_app.config
            lease = timedelta(seconds=float(config["OUTBOX_LEASE_SECONDS"]))
            try:
                if not _anything_due(self.clock()):  # an idle poll takes no write lock (SQLite's is the database's)
                    db.session.remove()
                    return outcome
                claimed = claim(self.worker_id, self.clock(), int(limit or config["OUTBOX_BATCH_SIZE"]), lease,
                                int(config["OUTBOX_MAX_ATTEMPTS"]))
                db.session.commit()
            except BaseException:
                db.session.rollback()
                db.session.remove()
                raise
            for _ in claimed.dead:
                outcome.add("dead")
            for index, message_id in enumerate(claimed.ids):
                if self.stopping.is_set():
                    for _ in range(release(claimed.ids[index:], claimed.token, self.clock())):
                        outcome.add("released")
                    break
                try:
                    outcome.add(self._deliver(message_id, claimed.token, lease))
                except Exception as exc:  # e.g. the database failed while recording: a failed attempt, if we can
                    db.session.rollback()
                    logger.exception("delivering outbox message %s failed", message_id)
                    outcome.add(self._failed_safely(message_id, claimed.token, exc))
            db.session.remove()
        return outcome

    def run_until_empty(self, max_rounds: int = 100) -> Outcome:
        """Deliver batch after batch until nothing is due (tests and ``civicdesk worker --once``)."""
        total = Outcome()
        for _ in range(max_rounds):
            if self.stopping.is_set():
                break
            outcome = self.run_once()
            for status, count in outcome.counts.items():
                total.counts[status] = total.counts.get(status, 0) + count
            if not outcome.total:
                break
        return total

    # --- one message ---------------------------------------------------------------------------------------

    def _deliver(self, message_id: str, token: str, lease: timedelta) -> str:
        message = db.session.get(OutboxMessage, message_id, populate_existing=True)
        if message is None or message.status != "sending" or message.claim_token != token:
            db.session.rollback()
            return "lost"
        if message.claimed_until is None or message.claimed_until - self.clock() < lease / 2:
            _release(message, self.clock())  # too little of the claim is left to be sure nobody takes it meanwhile
            db.session.commit()
            return "released"
        try:
            if message.channel == "wechat":
                receipt = self._send_wechat(message)
            else:
                receipt = self._send_staff(message, lease)
        except _LeaseShort as short:
            return self._handed_back(message_id, token, short.sent_to)
        except _Failure as failure:
            return self._failed(message_id, token, failure)
        except Exception as exc:  # a fault of ours (rendering, a channel's bug): counted as a failed attempt
            logger.exception("outbox message %s could not be delivered", message_id)
            return self._failed(message_id, token, _Failure(f"{type(exc).__name__}: {exc}"))
        if receipt is None:  # decided without sending: already recorded
            return message.status
        return self._delivered(message_id, token, {**receipt, "worker": self.worker_id})

    def _send_wechat(self, message: OutboxMessage) -> dict[str, Any] | None:
        template = template_for(message.event)
        resident = db.session.get(Resident, message.recipient_id)
        if template is None or resident is None:
            _finish(message, "skipped", "no template configured" if template is None else "no such resident",
                    self.clock())
            db.session.commit()
            return None
        if message.grant_id is None:
            grant = consume_grant(resident.id, template.id)
            if grant is None:
                if unused_grants(resident.id).get(template.id):
                    # an acceptance is left but another transaction holds it (SKIP LOCKED passed it over): it may
                    # roll back, so look again later rather than skip for good
                    raise _Failure("the acceptance left is held by another transaction")
                _finish(message, "skipped", "no acceptance", self.clock())
                db.session.commit()
                return None
            message.grant_id = grant.id
        rendered = subscribe_message(message, template.id)
        openid = resident.openid
        db.session.commit()  # the grant is used up by this message, whatever WeChat says next
        try:
            msgid = self.gateway.send_subscribe_message(openid, rendered.template_id, rendered.data, rendered.page)
        except WeChatError as error:
            text = f"WeChat errcode {error.errcode}: {error.errmsg}"
            if error.errcode in REFUSED_ERRCODES:
                raise _Failure(text, "refused") from error
            raise _Failure(text, "dead" if error.errcode in PERMANENT_ERRCODES else None) from error
        return {"msgid": msgid, "template_id": rendered.template_id}

    def _send_staff(self, message: OutboxMessage, lease: timedelta) -> dict[str, Any] | None:
        recipients = _recipients(message)
        if not recipients:
            _finish(message, "skipped", "no recipient", self.clock())
            db.session.commit()
            return None
        text = staff_text(message)
        now = self.clock()
        statement = _INSERT_NOTIFICATIONS[db.session.get_bind().dialect.name]
        db.session.execute(statement, [
            {"id": new_id(), "staff_id": r.id, "message_id": message.id, "event": message.event,
             "title": text.title, "body": text.body, "subject_type": message.subject_type,
             "subject_id": message.subject_id, "data": text.data, "created_at": now} for r in recipients])
        notification = Notification(event=message.event, title=text.title, body=text.body,
                                    subject_type=message.subject_type, subject_id=message.subject_id)
        key = message.idempotency_key
        claimed_until = message.claimed_until
        reached = set(message.payload.get("sent_to") or ())  # by an earlier attempt
        db.session.commit()  # the console has them now; the channel gets them at least once
        assert claimed_until is not None
        sent: list[str] = []
        for recipient in recipients:
            if recipient.id in reached:
                continue
            if claimed_until - self.clock() < lease / CHANNEL_LEASE_SHARE:
                raise _LeaseShort(sent)
            try:
                self.channel.send(recipient, notification, f"{key}:{recipient.id}")
            except ChannelError as error:
                raise _Failure(f"staff channel: {error}", "dead" if error.permanent else None, sent) from error
            sent.append(recipient.id)
        return {"recipients": len(recipients)}

    def _delivered(self, message_id: str, token: str, receipt: dict[str, Any]) -> str:
        now = self.clock()
        done = db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token,
                   OutboxMessage.status == "sending")
            .values(status="delivered", delivered_at=now, last_error=None,
                    claimed_by=None, claim_token=None, claimed_until=None, updated_at=now)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            return "lost"
        audit.record(SYSTEM, "notification.delivered", "outbox_message", message_id, receipt)
        db.session.commit()
        return "delivered"

    def _failed(self, message_id: str, token: str, failure: _Failure) -> str:
        db.session.rollback()
        config = current_app.config
        message = _claimed(message_id, token)
        if message is None:
            return "lost"
        attempts = message.attempts  # counted when it was claimed
        status = failure.status or ("dead" if attempts >= int(config["OUTBOX_MAX_ATTEMPTS"]) else "pending")
        now = self.clock()
        message.last_error = failure.error[:2000]
        _remember_sent(message, failure.sent_to)
        if status == "pending":
            message.status = "pending"
            message.next_attempt_at = now + backoff(attempts, config)
            message.claimed_by = message.claim_token = message.claimed_until = None
            message.updated_at = now
            logger.warning("outbox message %s (%s) failed (attempt %d), retried at %s: %s", message_id,
                           message.event, attempts, message.next_attempt_at.isoformat(), failure.error)
        else:
            _finish(message, status, failure.error, now)
            logger.error("outbox message %s (%s) %s after %d attempts: %s", message_id, message.event,
                         "refused" if status == "refused" else "dead-lettered", attempts, failure.error)
        db.session.commit()
        return status

    def _failed_safely(self, message_id: str, token: str, exc: Exception) -> str:
        """An exception escaped delivery: record a failed attempt (with backoff) if the database lets us."""
        try:
            return self._failed(message_id, token, _Failure(f"{type(exc).__name__}: {exc}"))
        except Exception:
            db.session.rollback()
            logger.exception("outbox message %s: the failure could not be recorded; its claim runs out", message_id)
            return "error"

    def _handed_back(self, message_id: str, token: str, sent_to: Sequence[str]) -> str:
        """The lease runs short in the middle of the staff channel calls: due again at once, this attempt not
        counted (it made progress), the staff reached remembered."""
        db.session.rollback()
        message = _claimed(message_id, token)
        if message is None:
            return "lost"
        _remember_sent(message, sent_to)
        _release(message, self.clock())
        db.session.commit()
        logger.info("outbox message %s handed back with its lease running out (%d more staff reached)", message_id,
                    len(sent_to))
        return "released"


def backoff(attempts: int, config: Any) -> timedelta:
    """The wait before attempt ``attempts + 1``: the base, doubled per failed attempt, capped."""
    base = float(config["OUTBOX_BACKOFF_SECONDS"])
    cap = float(config["OUTBOX_BACKOFF_MAX_SECONDS"])
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )


def _anything_due(now: datetime) -> bool:
    token = set_write_intent(False)
    try:
        found = db.session.execute(sa.select(OutboxMessage.id).where(_due(now)).limit(1)).first() is not None
        db.session.rollback()
    finally:
        reset_write_intent(token)
    return found


def claim(worker_id: str, now: datetime, limit: int, lease: timedelta, max_attempts: int) -> Claim:
    """Mark up to ``limit`` due messages as this worker's until ``now + lease``, counting an attempt for each.

    A message whose claim ran out although all its attempts were counted (the workers sending it died, hung or
    failed to record an outcome every time) is dead-lettered instead of being taken again.
    """
    due = _due(now)
    stmt = (sa.select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts).where(due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = db.session.execute(stmt).all()
    exhausted = [r.id for r in rows if r.status == "sending" and r.attempts >= max_attempts]
    ids = [r.id for r in rows if r.id not in exhausted]
    token = new_id()
    if exhausted:
        for message in db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.id.in_(exhausted))
                                          .order_by(OutboxMessage.id)).scalars():
            _finish(message, "dead", f"no outcome recorded in {message.attempts} attempts (the worker sending it "
                    "stopped, hung or failed before recording one)", now)
            logger.error("outbox message %s (%s) dead-lettered: its claim ran out after %d attempts", message.id,
                         message.event, message.attempts)
        db.session.flush()
    if ids:
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids), due)
            .values(status="sending", attempts=OutboxMessage.attempts + 1, claimed_by=worker_id[:64],
                    claim_token=token, claimed_until=now + lease, updated_at=now)
            .execution_options(synchronize_session=False))
    return Claim(token=token, ids=ids, dead=exhausted)


def release(ids: Sequence[str], token: str, now: datetime) -> int:
    """Hand claimed messages back unsent (the worker is stopping): due again at once, their attempt not counted."""
    if not ids:
        return 0
    try:
        released = int(db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.claim_token == token,
                   OutboxMessage.status == "sending")
            .values(status="pending", attempts=OutboxMessage.attempts - 1, claimed_by=None, claim_token=None,
                    claimed_until=None, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return released


def _claimed(message_id: str, token: str) -> OutboxMessage | None:
    """The message, while this claim still holds it."""
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.status != "sending" or message.claim_token != token:
        db.session.rollback()
        return None
    return message


def _release(message: OutboxMessage, now: datetime) -> None:
    """Back to pending, due at once; the attempt counted when it was claimed was not made."""
    message.status = "pending"
    message.attempts = max(message.attempts - 1, 0)
    message.next_attempt_at = now
    message.updated_at = now
    message.claimed_by = message.claim_token = message.claimed_until = None


def _remember_sent(message: OutboxMessage, sent_to: Sequence[str]) -> None:
    if sent_to:
        reached = set(message.payload.get("sent_to") or ()) | set(sent_to)
        message.payload = {**message.payload, "sent_to": sorted(reached)}


def _finish(message: OutboxMessage, status: str, reason: str, now: datetime) -> None:
    """A final outcome other than delivered: recorded on the message and in the audit log."""
    message.status = status
    message.last_error = reason[:2000]
    message.claimed_by = message.claim_token = message.claimed_until = None
    message.updated_at = now
    action = {"skipped": "notification.skipped", "refused": "notification.refused"}.get(
        status, "notification.dead_lettered")
    audit.record(SYSTEM, action, "outbox_message", message.id,
                 {"event": message.event, "reason": reason[:200], "attempts": message.attempts})


def _recipients(message: OutboxMessage) -> list[StaffRecipient]:
    stmt = sa.select(Staff.id, Staff.username, Staff.display_name).where(Staff.active.is_(True))
    if message.recipient_kind == "staff":
        stmt = stmt.where(Staff.id == message.recipient_id)
    else:
        roles = list(message.payload.get("roles") or ())
        stmt = stmt.where(Staff.department_id == message.recipient_id, Staff.id.in_(
            sa.select(StaffRole.staff_id).where(StaffRole.role.in_(roles))))
    excluded = set(message.payload.get("exclude") or ())  # e.g. the supervisor who flagged the request
    return [StaffRecipient(id=r.id, username=r.username, display_name=r.display_name)
            for r in db.session.execute(stmt.order_by(Staff.id)) if r.id not in excluded]
