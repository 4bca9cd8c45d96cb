"""``civicdesk worker``: delivers the outbox and runs the scheduled jobs, with APScheduler, in its own process.

Never started by the web app: gunicorn's workers serve HTTP only, so a deploy with many web workers still runs
each job once per worker process started with this command. On PostgreSQL several workers may run at once
(they claim disjoint batches of messages, and the jobs' messages are deduplicated by their keys); on SQLite run
one. SIGTERM or SIGINT stops it promptly: the message being sent is finished and recorded, the rest of the
batch is handed back unsent (due again at once, for the next worker), and a job other than delivery that is
running (one short transaction) finishes.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from service.core.db import new_id
from service.notifications import jobs
from service.notifications.channels import load_channel
from service.notifications.delivery import Deliverer, Outcome

logger = logging.getLogger("civicdesk.worker")
# Batches delivered one after another per run of the delivery job, so a backlog drains between polls.
_ROUNDS_PER_POLL = 10


def deliverer_for(app: Flask) -> Deliverer:
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
    return Deliverer(app=app, gateway=app.extensions["wechat"], channel=load_channel(app.config),
                     worker_id=worker_id)


def _deliver(deliverer: Deliverer) -> Outcome:
    outcome = deliverer.run_until_empty(max_rounds=_ROUNDS_PER_POLL)
    if outcome.total:
        logger.info("outbox: %s", ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items())))
    return outcome


def _logged(job: Callable[..., Any]) -> Callable[..., Any]:
    """A job whose failure is logged where civicdesk logs (the next run tries again) instead of APScheduler's."""

    @functools.wraps(job)
    def run(*args: Any) -> Any:
        try:
            return job(*args)
        except Exception:
            logger.exception("worker job %s failed; it runs again at its next time", job.__name__)
            return None

    return run


def run_once(app: Flask) -> None:
    """Every job once, then return (a check after deploying, or a cron-driven setup)."""
    deliverer = deliverer_for(app)
    jobs.queue_reminders(app)
    jobs.publish_notices(app)
    jobs.clean_up(app)
    _deliver(deliverer)


def build_scheduler(app: Flask, deliverer: Deliverer | None = None) -> BlockingScheduler:
    config = app.config
    deliverer = deliverer or deliverer_for(app)
    scheduler = BlockingScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=3)},
        # a job that is still running is not started again; runs missed while busy collapse into one
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    start = datetime.now(UTC)
    scheduler.add_job(_logged(_deliver), "interval", args=[deliverer], id="deliver-outbox", name="deliver the outbox",
                      seconds=float(config["WORKER_POLL_SECONDS"]), next_run_time=start)
    scheduler.add_job(_logged(jobs.queue_reminders), "interval", args=[app], id="reminders",
                      name="reminders, overdue notices and escalations",
                      seconds=float(config["REMINDER_INTERVAL_SECONDS"]), next_run_time=start)
    scheduler.add_job(_logged(jobs.publish_notices), "interval", args=[app], id="publish-notices",
                      name="publish scheduled notices",
                      seconds=float(config["NOTICE_PUBLICATION_INTERVAL_SECONDS"]), next_run_time=start)
    scheduler.add_job(_logged(jobs.clean_up), "interval", args=[app], id="clean-up",
                      name="remove expired tokens, idempotency keys and old messages",
                      seconds=float(config["CLEANUP_INTERVAL_SECONDS"]),
                      next_run_time=start + timedelta(seconds=5))
    return scheduler


def run(app: Flask) -> None:
    """Run until SIGTERM or SIGINT."""
    deliverer = deliverer_for(app)
    scheduler = build_scheduler(app, deliverer)

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("worker stopping (signal %d)", signum)
        deliverer.stop()  # checked between messages: the batch being delivered is handed back
        if scheduler.running:
            scheduler.shutdown(wait=False)  # the job threads are joined when the process exits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("worker started: %s", "; ".join(job.name for job in scheduler.get_jobs()))
    if not deliverer.stopping.is_set():  # a signal before the scheduler ran
        scheduler.start()
    logger.info("worker stopped")
