"""Demo data for a small district: departments, the working-day calendar, the built-in processes and catalog,
and staff accounts with the documented usernames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml

from service.accounts import operations
from service.accounts.models import Department, Staff
from service.calendar import operations as calendar_operations
from service.catalog import operations as catalog_operations
from service.catalog.models import Service
from service.core.auth import SYSTEM
from service.core.db import db
from service.processes import operations as process_operations
from service.processes.builtin import BUILTIN_CODES, builtin_definition_data
from service.processes.models import ProcessVersion

DEFAULT_DEMO_PASSWORD = "civicdesk-demo"

# (code, name, parent code)
DEPARTMENTS = [
    ("district", "示范区人民政府", None),
    ("gov-office", "区政府办公室", "district"),
    ("service-center", "区政务服务中心", "district"),
    ("housing", "区住房和城乡建设局", "district"),
    ("urban", "区城市管理局", "district"),
    ("market", "区市场监督管理局", "district"),
    ("environment", "区生态环境局", "district"),
    ("civil-affairs", "区民政局", "district"),
]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    department: str
    roles: tuple[str, ...]
    created: bool


def _demo_accounts() -> list[tuple[str, str, tuple[str, ...]]]:
    accounts: list[tuple[str, str, tuple[str, ...]]] = [
        ("admin", "district", ("admin",)),
        ("publisher", "gov-office", ("publisher",)),
        ("reviewer", "gov-office", ("reviewer",)),
    ]
    for code, _name, _parent in DEPARTMENTS:
        accounts.append((f"{code}-handler", code, ("handler",)))
        accounts.append((f"{code}-supervisor", code, ("supervisor",)))
    return accounts


def load_demo(password: str) -> list[DemoAccount]:
    """Create what is missing; what exists already (and any password changed since) is left alone."""
    calendar_operations.seed_official()  # idempotent; leaves local overrides alone
    by_code: dict[str, Department] = {
        d.code: d for d in db.session.execute(sa.select(Department)).scalars()
    }
    for code, name, parent in DEPARTMENTS:
        if code not in by_code:
            parent_id = by_code[parent].id if parent else None
            by_code[code] = operations.create_department(SYSTEM, code, name, parent_id)
    load_builtin_catalog()
    existing = set(db.session.execute(sa.select(Staff.username)).scalars())
    result = []
    for username, department, roles in _demo_accounts():
        created = username not in existing
        if created:
            operations.create_staff(SYSTEM, username=username, password=password,
                                    department_id=by_code[department].id, roles=list(roles))
        result.append(DemoAccount(username, department, roles, created))
    return result


def load_builtin_catalog() -> None:
    """The built-in processes (first version, active) and one catalog service for each, where missing."""
    known = set(db.session.execute(sa.select(ProcessVersion.code).distinct()).scalars())
    for code in BUILTIN_CODES:
        if code not in known:
            process_operations.upload(SYSTEM, builtin_definition_data(code), activate=True)
    services = set(db.session.execute(sa.select(Service.code)).scalars())
    catalog = yaml.safe_load((Path(__file__).parents[1] / "catalog" / "builtin.yaml").read_text(encoding="utf-8"))
    for entry in catalog:
        if entry["code"] not in services:
            catalog_operations.create_service(SYSTEM, **entry)
