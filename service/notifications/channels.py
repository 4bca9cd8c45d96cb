"""Channels that carry staff notifications beyond the console: a log-only default, or an adapter of one's own.

``STAFF_NOTIFICATION_CHANNEL`` is ``"log"`` or ``"package.module:factory"``; the factory takes the settings and
returns a :class:`StaffChannel`. An adapter (SMS gateway, e-mail) gets each notification at least once, with an
idempotency key that stays the same across retries, so it can drop repeats; it raises :class:`ChannelError`
to have the delivery retried (or dead-lettered at once with ``permanent=True``).

``send`` is called once per recipient, inside the worker's claim on the message: it must return or raise within
a bounded time, well under a quarter of ``OUTBOX_LEASE_SECONDS`` (give the HTTP client or SMTP connection a
timeout of, say, 10 s with the default 5 min lease). The worker calls it only while that quarter of the lease is
left; when it is not, the message is handed back and the next attempt goes on with the recipients not reached.
A call that hangs past the lease lets another worker take the message over and send it again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

logger = logging.getLogger("civicdesk.notifications")


@dataclass(frozen=True)
class StaffRecipient:
    id: str
    username: str
    display_name: str


@dataclass(frozen=True)
class Notification:
    event: str
    title: str
    body: str
    subject_type: str
    subject_id: str


class ChannelError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class StaffChannel(Protocol):
    def send(self, recipient: StaffRecipient, notification: Notification, idempotency_key: str) -> None: ...


class LogChannel:
    """Writes one log line per notification and recipient; the console holds the notification itself."""

    def send(self, recipient: StaffRecipient, notification: Notification, idempotency_key: str) -> None:
        logger.info("staff notification %s to %s: %s", notification.event, recipient.username, notification.title,
                    extra={"idempotency_key": idempotency_key, "subject_id": notification.subject_id})


def load_channel(config: Mapping[str, Any]) -> StaffChannel:
    spec = str(config.get("STAFF_NOTIFICATION_CHANNEL") or "log")
    if spec == "log":
        return LogChannel()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"STAFF_NOTIFICATION_CHANNEL must be 'log' or 'package.module:factory', not {spec!r}")
    factory = cast(Callable[[Mapping[str, Any]], StaffChannel],
                   getattr(importlib.import_module(module_name), attribute))
    return factory(config)
