"""The staff console HTTP API, ``/console/v1``: one module per domain."""

from __future__ import annotations

from flask_smorest import Api

from service.console_api import (
    audit,
    auth,
    calendar,
    consultations,
    departments,
    notices,
    notifications,
    outbox,
    processes,
    ratings,
    requests,
    services,
    staff,
    stats,
    supervisions,
    tasks,
)


def register(api: Api) -> None:
    for module in (auth, departments, staff, audit, calendar, processes, requests, tasks, consultations, ratings,
                   services, supervisions, notices, notifications, outbox, stats):
        api.register_blueprint(module.blp, url_prefix=f"/console/v1{module.PREFIX}")
