"""Reads of accounts and the organisation."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from service.accounts.models import Department, Resident, Staff
from service.core.db import db
from service.core.errors import NotFound
from service.core.pagination import Page, paginate


def get_resident(resident_id: str) -> Resident:
    resident = db.session.get(Resident, resident_id)
    if resident is None:
        raise NotFound("No such resident.")
    return resident


def get_staff(staff_id: str) -> Staff:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("No such staff member.")
    return staff


def get_department(department_id: str) -> Department:
    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound("No such department.")
    return department


def departments_page(cursor: str | None, limit: int | None, parent_id: str | None = None) -> Page[Department]:
    stmt = sa.select(Department)
    if parent_id is not None:
        stmt = stmt.where(Department.parent_id == parent_id)
    return paginate(stmt, [Department.code], cursor=cursor, limit=limit)


def staff_page(cursor: str | None, limit: int | None, department_id: str | None = None) -> Page[Staff]:
    stmt = sa.select(Staff)
    if department_id is not None:
        stmt = stmt.where(Staff.department_id == department_id)
    return paginate(stmt, [Staff.username], cursor=cursor, limit=limit)


@dataclass(frozen=True)
class DepartmentDirectory:
    """Department codes (the names process definitions use) and ids (the database's), both ways."""

    code_of: dict[str, str]
    id_of: dict[str, str]
    active_codes: frozenset[str]
    parent_of: dict[str, str | None]

    def subtree(self, department_id: str) -> set[str]:
        """The department and every department below it, by id."""
        below = {department_id}
        grew = True
        while grew:
            grew = False
            for child, parent in self.parent_of.items():
                if parent in below and child not in below:
                    below.add(child)
                    grew = True
        return below


def department_directory(covering: Iterable[str] = ()) -> DepartmentDirectory:
    """Cached per app for ``DIRECTORY_REFRESH_SECONDS``: read on every action, changed a few times a year.

    Changes made through this process are seen at once (``forget_departments``); other workers see them
    within the refresh interval, or at once where the caller names in ``covering`` the codes it is about to
    look up and the cached directory lacks one (a department made in another worker since).
    """
    cache = current_app.extensions.setdefault("civicdesk_departments", {})
    now = time.monotonic()
    if cache.get("expires", 0.0) > now:
        directory: DepartmentDirectory = cache["directory"]
        if all(code in directory.id_of for code in covering):
            return directory
    rows = db.session.execute(sa.select(Department.id, Department.code, Department.active,
                                        Department.parent_id)).all()
    directory = DepartmentDirectory(code_of={r.id: r.code for r in rows}, id_of={r.code: r.id for r in rows},
                                    active_codes=frozenset(r.code for r in rows if r.active),
                                    parent_of={r.id: r.parent_id for r in rows})
    cache.update(directory=directory, expires=now + float(current_app.config["DIRECTORY_REFRESH_SECONDS"]))
    return directory


def forget_departments() -> None:
    current_app.extensions.get("civicdesk_departments", {}).clear()
