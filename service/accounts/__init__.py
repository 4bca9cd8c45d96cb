"""Residents, staff, roles and departments: who may sign in and as what."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from service.accounts.models import Resident, Staff
from service.core.auth import Actor, register_actor_loader
from service.core.db import db


def _load_staff(subject_id: str, token_id: str) -> Actor | None:
    staff = db.session.execute(sa.select(Staff).where(Staff.id == subject_id)).scalar_one_or_none()
    if staff is None or not staff.active:
        return None
    return Actor(kind="staff", id=staff.id, department_id=staff.department_id,
                 roles=frozenset(staff.roles), token_id=token_id)


def _load_resident(subject_id: str, token_id: str) -> Actor | None:
    exists = db.session.execute(sa.select(Resident.id).where(Resident.id == subject_id)).first()
    return Actor(kind="resident", id=subject_id, token_id=token_id) if exists else None


def init_app(_app: Flask) -> None:
    register_actor_loader("staff", _load_staff)
    register_actor_loader("resident", _load_resident)
