"""Reads of process versions, and the parsed definition of a version (cached: versions never change)."""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa

from service.accounts.models import Department
from service.core.db import db
from service.core.direct import DirectStatement
from service.core.errors import NotFound
from service.engine.definition import ProcessDefinition, load_definition
from service.processes.models import ProcessVersion


def department_codes() -> set[str]:
    return set(db.session.execute(sa.select(Department.code).where(Department.active)).scalars())


@lru_cache(maxsize=256)
def _parsed(version_id: str, checksum: str) -> ProcessDefinition:
    row = db.session.get(ProcessVersion, version_id)
    assert row is not None
    assert row.checksum == checksum
    # Departments were checked when the version was stored; a later rename must not break running requests.
    return load_definition(row.definition, None)


def definition_of(version: ProcessVersion) -> ProcessDefinition:
    return _parsed(version.id, version.checksum)


_by_id: dict[str, ProcessDefinition] = {}


def definition_by_id(version_id: str) -> ProcessDefinition:
    """The definition of a version without loading its row again: versions never change once stored."""
    definition = _by_id.get(version_id)
    if definition is None:
        row = db.session.get(ProcessVersion, version_id)
        if row is None:
            raise NotFound("No such process version.")
        definition = _by_id[version_id] = definition_of(row)
    return definition


def get_version(code: str, version: int) -> ProcessVersion:
    row = db.session.execute(
        sa.select(ProcessVersion).where(ProcessVersion.code == code, ProcessVersion.version == version)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Process {code!r} has no version {version}.")
    return row


def active_version(code: str) -> ProcessVersion:
    row = db.session.execute(
        sa.select(ProcessVersion).where(ProcessVersion.code == code, ProcessVersion.active)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Process {code!r} has no active version.")
    return row


_ACTIVE_ID = DirectStatement(sa.select(ProcessVersion.id).where(ProcessVersion.code == sa.bindparam("b_code"),
                                                                ProcessVersion.active))


def active_version_id(code: str) -> str:
    """The id of the version new requests of ``code`` start on (without loading its definition again); read on
    every submission."""
    row = _ACTIVE_ID.first({"b_code": code})
    if row is None:
        raise NotFound(f"Process {code!r} has no active version.")
    return str(row[0])


def versions_of(code: str) -> list[ProcessVersion]:
    rows = list(db.session.execute(
        sa.select(ProcessVersion).where(ProcessVersion.code == code).order_by(ProcessVersion.version)
    ).scalars())
    if not rows:
        raise NotFound(f"No process {code!r}.")
    return rows


def processes() -> list[ProcessVersion]:
    """The newest version of each process (with its active flag), by code."""
    newest = (sa.select(ProcessVersion.code, sa.func.max(ProcessVersion.version).label("version"))
              .group_by(ProcessVersion.code).subquery())
    return list(db.session.execute(
        sa.select(ProcessVersion).join(newest, sa.and_(ProcessVersion.code == newest.c.code,
                                                        ProcessVersion.version == newest.c.version))
        .order_by(ProcessVersion.code)
    ).scalars())
