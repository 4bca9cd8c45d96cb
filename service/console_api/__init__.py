"""The staff console HTTP API, ``/console/v1``: one module per domain."""

from __future__ import annotations

from flask_smorest import Api

from service.console_api import (
    audit,
    auth,
    calendar,
    consultations,
    departments,
    processes,
    ratings,
    requests,
    services,
    staff,
    supervisions,
    tasks,
)


def register(api: Api) -> None:
    for module in (auth, departments, staff, audit, calendar, processes, requests, tasks, consultations, ratings,
                   services, supervisions):
        api.register_blueprint(module.blp, url_prefix=f"/console/v1{module.PREFIX}")
