"""Uploading, activating and comparing process versions, and moving running requests between versions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from service.core import audit
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.core.errors import Conflict, Forbidden, ValidationFailed
from service.engine.definition import load_definition
from service.engine.errors import DefinitionInvalid
from service.processes.models import ProcessVersion
from service.processes.permissions import can_manage_processes
from service.processes.queries import department_codes, get_version


def _require_admin(actor: Actor) -> None:
    if not can_manage_processes(actor):
        raise Forbidden("Only administrators manage process definitions.")


def checksum_of(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def upload(actor: Actor, data: Any, *, activate: bool = False) -> ProcessVersion:
    """Store ``data`` as the next version of its process (validated first; 422 names each problem).

    Uploading the same definition as the newest version again changes nothing and returns that version.
    """
    _require_admin(actor)
    try:
        definition = load_definition(data, department_codes())
    except DefinitionInvalid as invalid:
        raise ValidationFailed("The process definition is invalid.", errors=invalid.errors) from invalid
    checksum = checksum_of(data)
    newest = db.session.execute(
        sa.select(ProcessVersion).where(ProcessVersion.code == definition.code)
        .order_by(ProcessVersion.version.desc()).limit(1)
    ).scalar_one_or_none()
    if newest is not None and newest.checksum == checksum:
        version = newest
    else:
        version = ProcessVersion(code=definition.code, version=(newest.version + 1) if newest else 1,
                                 name=definition.name, definition=data, checksum=checksum,
                                 created_by=actor.id if actor.kind == "staff" else None)
        db.session.add(version)
        db.session.flush()
        audit.record(actor, "process.uploaded", "process_version", version.id,
                     {"code": version.code, "version": version.version})
    if activate and not version.active:
        activate_version(actor, version.code, version.version)
    db.session.flush()
    return version


def activate_version(actor: Actor, code: str, number: int) -> ProcessVersion:
    """Make this version the one new requests start on; running requests keep the version they started on."""
    _require_admin(actor)
    version = get_version(code, number)
    if version.active:
        return version
    db.session.execute(sa.update(ProcessVersion).where(ProcessVersion.code == code, ProcessVersion.active)
                       .values(active=False))
    db.session.flush()
    version.active = True
    version.activated_at = utcnow()
    audit.record(actor, "process.activated", "process_version", version.id, {"code": code, "version": number})
    db.session.flush()
    return version


@dataclass
class VersionComparison:
    code: str
    from_version: int
    to_version: int
    steps_added: list[str] = field(default_factory=list)
    steps_removed: list[str] = field(default_factory=list)
    steps_changed: dict[str, list[str]] = field(default_factory=dict)
    settings_changed: list[str] = field(default_factory=list)


def compare(code: str, a: int, b: int) -> VersionComparison:
    old, new = get_version(code, a).definition, get_version(code, b).definition
    result = VersionComparison(code=code, from_version=a, to_version=b)
    old_steps = {s["key"]: s for s in old["steps"]}
    new_steps = {s["key"]: s for s in new["steps"]}
    result.steps_added = [k for k in new_steps if k not in old_steps]
    result.steps_removed = [k for k in old_steps if k not in new_steps]
    for key in old_steps.keys() & new_steps.keys():
        before, after = old_steps[key], new_steps[key]
        changes = [f"{name} changed" for name in sorted(before.keys() | after.keys())
                   if name != "actions" and before.get(name) != after.get(name)]
        old_actions = {a["action"]: a for a in before.get("actions", [])}
        new_actions = {a["action"]: a for a in after.get("actions", [])}
        changes += [f"action {n} added" for n in new_actions if n not in old_actions]
        changes += [f"action {n} removed" for n in old_actions if n not in new_actions]
        changes += [f"action {n} changed" for n in old_actions.keys() & new_actions.keys()
                    if old_actions[n] != new_actions[n]]
        if changes:
            result.steps_changed[key] = sorted(changes)
    result.settings_changed = sorted(k for k in old.keys() | new.keys()
                                     if k != "steps" and old.get(k) != new.get(k))
    return result


@dataclass
class MigrationPlan:
    code: str
    from_version: int
    to_version: int
    dry_run: bool
    movable: list[str] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)


def migrate_requests(actor: Actor, code: str, from_number: int, to_number: int, *, dry_run: bool) -> MigrationPlan:
    """Move running requests from one version to another where the step they stand on still exists.

    Each moved request gets a ``migrate`` event and an audit record; a dry run only reports.
    """
    from service.requests.operations import record_migration

    _require_admin(actor)
    if from_number == to_number:
        raise Conflict("Choose two different versions.")
    source, target = get_version(code, from_number), get_version(code, to_number)
    target_steps = {s["key"]: s for s in target.definition["steps"]}
    plan = MigrationPlan(code=code, from_version=from_number, to_version=to_number, dry_run=dry_run)
    from service.requests.models import Request

    running = db.session.execute(
        sa.select(Request).where(Request.process_version_id == source.id,
                                 Request.status.not_in(("completed", "rejected", "withdrawn")))
        .order_by(Request.id)
    ).scalars()
    for request in running:
        step = target_steps.get(request.current_step)
        if step is None:
            plan.blocked[request.id] = f"step {request.current_step!r} does not exist in version {to_number}"
            continue
        current_kind = next(s["kind"] for s in source.definition["steps"] if s["key"] == request.current_step)
        if step["kind"] != current_kind:
            plan.blocked[request.id] = f"step {request.current_step!r} is a {step['kind']} step in version {to_number}"
            continue
        plan.movable.append(request.id)
        if not dry_run:
            record_migration(actor, request, source, target)
    if not dry_run:
        audit.record(actor, "process.migrated", "process_version", target.id,
                     {"code": code, "from": from_number, "to": to_number, "moved": len(plan.movable),
                      "blocked": len(plan.blocked)})
        db.session.flush()
    return plan
