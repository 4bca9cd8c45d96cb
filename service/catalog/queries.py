"""Reads of the catalog: the public list of services, one service with its process overview, the categories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from service.catalog.models import Service
from service.core.db import db
from service.core.direct import DirectStatement
from service.core.errors import NotFound
from service.core.pagination import Page, paginate
from service.processes.models import ProcessVersion
from service.processes.queries import active_version, definition_of


@dataclass(frozen=True)
class ServiceTerms:
    """What a submission needs of its service."""

    id: str
    code: str
    process_code: str
    form: dict[str, Any]
    materials: list[dict[str, Any]]
    active: bool
    process_version_id: str | None  # the active version of its process (None: the process has none)


_SERVICES: sa.Table = Service.__table__  # type: ignore[assignment]
_VERSIONS: sa.Table = ProcessVersion.__table__  # type: ignore[assignment]
_SELECT_TERMS = DirectStatement(
    sa.select(*(_SERVICES.c[name] for name in ("id", "code", "process_code", "form", "materials", "active")),
              _VERSIONS.c.id)
    .select_from(_SERVICES.outerjoin(_VERSIONS, sa.and_(_VERSIONS.c.code == _SERVICES.c.process_code,
                                                        _VERSIONS.c.active)))
    .where(_SERVICES.c.id == sa.bindparam("b_id")))


def service_terms(service_id: str) -> ServiceTerms | None:
    """Read on every submission: the few columns it needs and its process's active version, in one statement
    and without the ORM."""
    row = _SELECT_TERMS.first({"b_id": service_id})
    return ServiceTerms(*row) if row is not None else None


@dataclass(frozen=True)
class StepOverview:
    key: str
    name: str
    kind: str
    time_limit_working_days: int | None


@dataclass(frozen=True)
class OutcomeOverview:
    key: str
    name: str
    outcome: str


@dataclass(frozen=True)
class ProcessOverview:
    code: str
    version: int
    name: str
    initial_step: str
    steps: list[StepOverview]
    outcomes: list[OutcomeOverview]


def services_page(cursor: str | None, limit: int | None, category: str | None = None,
                  q: str | None = None) -> Page[Service]:
    """Active services by code, optionally of one category and with ``q`` in their name."""
    stmt = sa.select(Service).where(Service.active)
    if category and category.strip():
        stmt = stmt.where(Service.category == category.strip())
    if q and q.strip():
        stmt = stmt.where(Service.name.icontains(q.strip(), autoescape=True))
    return paginate(stmt, [Service.code], cursor=cursor, limit=limit)


def get_active_service(service_id: str) -> Service:
    service = db.session.get(Service, service_id)
    if service is None or not service.active:
        raise NotFound("No such service.")
    return service


def process_overview(process_code: str) -> ProcessOverview | None:
    """The steps and endings of the process's active version, with their public names; None without one."""
    try:
        version = active_version(process_code)
    except NotFound:
        return None
    definition = definition_of(version)
    steps = [StepOverview(key=step.key, name=step.public_name, kind=step.kind,
                          time_limit_working_days=step.time_limit_working_days)
             for step in definition.steps.values() if not step.terminal]
    outcomes = [OutcomeOverview(key=step.key, name=step.public_name, outcome=step.outcome or "completed")
                for step in definition.steps.values() if step.terminal]
    return ProcessOverview(code=version.code, version=version.version, name=definition.name,
                           initial_step=definition.initial_step, steps=steps, outcomes=outcomes)


def service_detail(service_id: str) -> dict[str, Any]:
    """An active service with the overview of its process (404 for an unknown or inactive one)."""
    service = get_active_service(service_id)
    return {
        "id": service.id, "code": service.code, "name": service.name, "category": service.category,
        "description": service.description, "time_limit_working_days": service.time_limit_working_days,
        "form": service.form, "materials": service.materials, "process": process_overview(service.process_code),
    }


def categories() -> list[dict[str, Any]]:
    """Categories of active services with how many each has, by category."""
    rows = db.session.execute(
        sa.select(Service.category, sa.func.count().label("count")).where(Service.active)
        .group_by(Service.category).order_by(Service.category)
    ).all()
    return [{"category": row.category, "count": row.count} for row in rows]


def all_services_page(cursor: str | None, limit: int | None, include_inactive: bool) -> Page[Service]:
    stmt = sa.select(Service)
    if not include_inactive:
        stmt = stmt.where(Service.active)
    return paginate(stmt, [Service.code], cursor=cursor, limit=limit)


def get_service(service_id: str) -> Service:
    service = db.session.get(Service, service_id)
    if service is None:
        raise NotFound("No such service.")
    return service
