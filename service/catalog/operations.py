"""Changes to the catalog."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from service.catalog.models import Service
from service.core import audit
from service.core.auth import Actor
from service.core.db import db
from service.core.errors import Conflict, Forbidden


def create_service(actor: Actor, *, code: str, name: str, category: str, process_code: str,
                   time_limit_working_days: int, description: str = "", form: dict[str, Any] | None = None,
                   materials: list[dict[str, Any]] | None = None) -> Service:
    if not (actor.kind == "system" or actor.has_role("admin")):
        raise Forbidden("Only administrators manage the catalog.")
    if db.session.execute(sa.select(Service.id).where(Service.code == code)).first():
        raise Conflict(f"A service with code {code!r} exists already.")
    service = Service(code=code, name=name, category=category, process_code=process_code,
                      time_limit_working_days=time_limit_working_days, description=description,
                      form=form or {"fields": []}, materials=materials or [])
    db.session.add(service)
    db.session.flush()
    audit.record(actor, "service.created", "service", service.id, {"code": code, "process_code": process_code})
    db.session.flush()
    return service
