"""Reads of accounts and the organisation."""

from __future__ import annotations

import sqlalchemy as sa

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
