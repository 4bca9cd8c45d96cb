"""Helpers of the notification tests: staff actors of the demo district, the fake WeChat's record, a delivering
worker in-process with an injectable clock, and a recording staff channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa
from flask import Flask

from service.accounts.models import Resident, Staff
from service.core.auth import Actor
from service.core.db import db
from service.notifications.channels import Notification, StaffRecipient
from service.notifications.delivery import Deliverer, Outcome
from service.notifications.models import OutboxMessage
from service.wechat.fake import FakeWeChatServer


def staff_actor(username: str) -> Actor:
    """The demo account ``username`` as an actor (call inside an app context)."""
    staff = db.session.execute(sa.select(Staff).where(Staff.username == username)).scalar_one()
    return Actor(kind="staff", id=staff.id, department_id=staff.department_id, roles=frozenset(staff.roles))


def resident_id(openid: str) -> str:
    return str(db.session.execute(sa.select(Resident.id).where(Resident.openid == openid)).scalar_one())


def resident_actor(name: str) -> Actor:
    return Actor(kind="resident", id=resident_id(f"o-{name}"))


def fake_messages(fake: FakeWeChatServer, touser: str | None = None) -> list[dict[str, Any]]:
    response = requests.get(f"{fake.base_url}__fake__/subscribe-messages",
                            params={"touser": touser} if touser else None, timeout=5)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def fake_stats(fake: FakeWeChatServer) -> dict[str, int]:
    response = requests.get(f"{fake.base_url}__fake__/stats", timeout=5)
    response.raise_for_status()
    stats: dict[str, int] = response.json()
    return stats


def reset_fake(fake: FakeWeChatServer) -> None:
    requests.delete(f"{fake.base_url}__fake__/subscribe-messages", timeout=5).raise_for_status()
    requests.delete(f"{fake.base_url}__fake__/failures", timeout=5).raise_for_status()


def inject_failures(fake: FakeWeChatServer, errcode: int, count: int, errmsg: str = "injected") -> None:
    requests.post(f"{fake.base_url}__fake__/failures", json={"errcode": errcode, "errmsg": errmsg, "count": count},
                  timeout=5).raise_for_status()


@dataclass
class RecordingChannel:
    """A staff channel that remembers what it was given."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (username, event, idempotency key)

    def send(self, recipient: StaffRecipient, notification: Notification, idempotency_key: str) -> None:
        self.sent.append((recipient.username, notification.event, idempotency_key))


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def deliverer(app: Flask, clock: Clock | None = None, channel: RecordingChannel | None = None) -> Deliverer:
    return Deliverer(app=app, gateway=app.extensions["wechat"], channel=channel or RecordingChannel(),
                     clock=clock or Clock())


def deliver_all(app: Flask, clock: Clock | None = None, channel: RecordingChannel | None = None) -> Outcome:
    return deliverer(app, clock, channel).run_until_empty()


def messages(app: Flask, **where: Any) -> list[OutboxMessage]:
    with app.app_context():
        stmt = sa.select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, name) == value)
        rows = list(db.session.execute(stmt).scalars())
        db.session.expunge_all()
        return rows
