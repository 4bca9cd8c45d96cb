"""Changes to the catalog: services (事项) with their form, materials, time limit and process."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from service.accounts.roles import may
from service.catalog.forms import validate_form_definition, validate_materials_definition
from service.catalog.models import Service
from service.core import audit
from service.core.auth import Actor
from service.core.concurrency import check_version
from service.core.db import db, utcnow
from service.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service.processes.models import ProcessVersion


def _require_admin(actor: Actor) -> None:
    if not may(actor, "catalog.manage"):
        raise Forbidden("Only administrators manage the catalog.")


def _validate(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "form" in values:
        errors.update(validate_form_definition(values["form"]))
    if "materials" in values:
        errors.update(validate_materials_definition(values["materials"]))
    if "process_code" in values and not db.session.execute(
            sa.select(ProcessVersion.id).where(ProcessVersion.code == values["process_code"]).limit(1)).first():
        errors["process_code"] = ["No process with this code; upload its definition first."]
    if errors:
        raise ValidationFailed("The service is invalid.", errors=errors)


def create_service(actor: Actor, *, code: str, name: str, category: str, process_code: str,
                   time_limit_working_days: int, description: str = "", form: dict[str, Any] | None = None,
                   materials: list[dict[str, Any]] | None = None) -> Service:
    _require_admin(actor)
    values = {"form": form or {"fields": []}, "materials": materials or [], "process_code": process_code}
    _validate(values)
    if db.session.execute(sa.select(Service.id).where(Service.code == code)).first():
        raise Conflict(f"A service with code {code!r} exists already.")
    service = Service(code=code, name=name, category=category, time_limit_working_days=time_limit_working_days,
                      description=description, **values)
    db.session.add(service)
    db.session.flush()
    audit.record(actor, "service.created", "service", service.id, {"code": code, "process_code": process_code})
    return service


def update_service(actor: Actor, service_id: str, changes: dict[str, Any], expected: int | None) -> Service:
    _require_admin(actor)
    service = db.session.get(Service, service_id)
    if service is None:
        raise NotFound("No such service.")
    check_version(service.version, expected)
    changes = {k: v for k, v in changes.items() if getattr(service, k) != v}
    if not changes:
        return service
    _validate(changes)
    for key, value in changes.items():
        setattr(service, key, value)
    service.updated_at = utcnow()
    db.session.flush()
    audit.record(actor, "service.updated", "service", service.id, {"fields": sorted(changes)})
    return service
