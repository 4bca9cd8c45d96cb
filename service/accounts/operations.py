"""State changes of accounts and the organisation. Each takes the actor, checks permission, writes the
audit record and flushes; the caller's transaction boundary commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from service.accounts import passwords, queries
from service.accounts.models import ROLES, Department, Resident, Staff, StaffRole
from service.accounts.permissions import can_manage_organisation
from service.core import audit
from service.core.auth import Actor, IssuedToken, issue_token, revoke_token, revoke_tokens_of
from service.core.concurrency import check_version
from service.core.db import db, utcnow
from service.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
    ValidationFailed,
)
from service.wechat import WeChatError, WeChatGateway

WECHAT_INVALID_CODE = 40029


class LoginFailed(Unauthorized):
    """A refused login whose failure count must survive the refusal."""

    keep_changes = True


@dataclass(frozen=True)
class StaffLogin:
    staff: Staff
    token: IssuedToken


@dataclass(frozen=True)
class ResidentLogin:
    resident: Resident
    token: IssuedToken


def login_staff(username: str, password: str) -> StaffLogin:
    config = current_app.config
    staff = db.session.execute(
        sa.select(Staff).where(Staff.username == username.strip().lower())
    ).scalar_one_or_none()
    now = utcnow()
    if staff is None or not staff.active:
        passwords.burn_time(password)
        raise LoginFailed("Wrong username or password.")
    if staff.locked_until is not None and staff.locked_until > now:
        retry_after = int((staff.locked_until - now).total_seconds()) + 1
        raise TooManyRequests("Too many failed logins; the account is locked for a while.",
                              headers={"Retry-After": str(retry_after)})
    if not passwords.verify_password(staff.password_hash, password):
        staff.failed_logins += 1
        actor = Actor(kind="staff", id=staff.id, department_id=staff.department_id)
        if staff.failed_logins >= int(config["LOGIN_MAX_FAILURES"]):
            staff.locked_until = now + timedelta(seconds=int(config["LOGIN_LOCKOUT_SECONDS"]))
            staff.failed_logins = 0
            audit.record(actor, "staff.locked", "staff", staff.id, {"until": staff.locked_until.isoformat()})
        else:
            audit.record(actor, "staff.login_failed", "staff", staff.id, {"failures": staff.failed_logins})
        db.session.flush()
        raise LoginFailed("Wrong username or password.")
    if passwords.needs_rehash(staff.password_hash):
        staff.password_hash = passwords.hash_password(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    token = issue_token("staff", staff.id, int(config["STAFF_TOKEN_TTL_SECONDS"]))
    audit.record(Actor(kind="staff", id=staff.id), "staff.login", "staff", staff.id)
    db.session.flush()
    return StaffLogin(staff=staff, token=token)


def login_resident(code: str, gateway: WeChatGateway) -> ResidentLogin:
    try:
        session = gateway.code_to_session(code)
    except WeChatError as exc:
        if exc.errcode == WECHAT_INVALID_CODE:
            raise Unauthorized("The login code is invalid or was already used.") from exc
        raise UpstreamUnavailable("WeChat could not be reached; try again.") from exc
    resident = db.session.execute(
        sa.select(Resident).where(Resident.openid == session.openid)
    ).scalar_one_or_none()
    created = resident is None
    if resident is None:
        resident = Resident(openid=session.openid)
        db.session.add(resident)
    resident.session_key = session.session_key
    resident.unionid = session.unionid or resident.unionid
    resident.last_login_at = utcnow()
    db.session.flush()
    if created:
        audit.record(Actor(kind="resident", id=resident.id), "resident.created", "resident", resident.id)
    token = issue_token("resident", resident.id, int(current_app.config["TOKEN_TTL_SECONDS"]))
    db.session.flush()
    return ResidentLogin(resident=resident, token=token)


def logout(actor: Actor) -> None:
    if actor.token_id is None:
        raise Unauthorized("No token to revoke.")
    revoke_token(actor.token_id)
    audit.record(actor, f"{actor.kind}.logout", actor.kind, actor.id)
    db.session.flush()


def update_resident(actor: Actor, changes: dict[str, Any], expected: int | None) -> Resident:
    resident = db.session.get(Resident, actor.id)
    if resident is None or actor.kind != "resident":
        raise NotFound("No such resident.")
    if expected is not None:
        check_version(resident.version, expected)
    changed: list[str] = []
    for field in ("nickname", "name", "phone", "id_number"):
        if field in changes and getattr(resident, field) != changes[field]:
            setattr(resident, field, changes[field])
            changed.append(field)
    if "enterprise" in changes:
        enterprise = changes["enterprise"] or {}
        if (resident.enterprise_name, resident.enterprise_uscc) != (enterprise.get("name"), enterprise.get("uscc")):
            resident.enterprise_name = enterprise.get("name")
            resident.enterprise_uscc = enterprise.get("uscc")
            changed.append("enterprise")
    if changed:
        resident.updated_at = utcnow()
        db.session.flush()  # one UPDATE, one new version, before the audit INSERT
        # Only the names of the fields: the values are personal data and the audit log is widely read.
        audit.record(actor, "resident.updated", "resident", resident.id, {"fields": changed})
    return resident


def _require_admin(actor: Actor) -> None:
    if not can_manage_organisation(actor):
        raise Forbidden("Only administrators manage the organisation.")


def _department(department_id: str | None, field: str = "department_id") -> Department:
    department = db.session.get(Department, department_id) if department_id else None
    if department is None:
        raise ValidationFailed("Unknown department.", errors={field: ["No such department."]})
    return department


def create_department(actor: Actor, code: str, name: str, parent_id: str | None) -> Department:
    _require_admin(actor)
    if parent_id is not None:
        _department(parent_id, "parent_id")
    if db.session.execute(sa.select(Department.id).where(Department.code == code)).first():
        raise Conflict(f"A department with code {code!r} exists already.")
    department = Department(code=code, name=name, parent_id=parent_id)
    db.session.add(department)
    db.session.flush()
    queries.forget_departments()
    audit.record(actor, "department.created", "department", department.id,
                 {"code": code, "name": name, "parent_id": parent_id})
    db.session.flush()
    return department


def _ancestors(department: Department) -> set[str]:
    seen: set[str] = set()
    current: str | None = department.parent_id
    while current is not None and current not in seen:
        seen.add(current)
        current = db.session.execute(sa.select(Department.parent_id).where(Department.id == current)).scalar()
    return seen


def update_department(actor: Actor, department_id: str, changes: dict[str, Any],
                      expected: int | None) -> Department:
    _require_admin(actor)
    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound("No such department.")
    check_version(department.version, expected)
    if "parent_id" in changes and changes["parent_id"] is not None:
        parent = _department(changes["parent_id"], "parent_id")
        if parent.id == department.id or department.id in _ancestors(parent):
            raise ValidationFailed("A department cannot be placed under itself.",
                                   errors={"parent_id": ["Would make a cycle in the department tree."]})
    changes = {k: v for k, v in changes.items() if getattr(department, k) != v}
    if not changes:
        return department
    before = {k: getattr(department, k) for k in changes}
    for key, value in changes.items():
        setattr(department, key, value)
    department.updated_at = utcnow()
    queries.forget_departments()
    audit.record(actor, "department.updated", "department", department.id,
                 {"before": before, "after": changes})
    db.session.flush()
    return department


def create_staff(actor: Actor, *, username: str, password: str, department_id: str, roles: list[str],
                 display_name: str | None = None) -> Staff:
    _require_admin(actor)
    _department(department_id)
    username = username.strip().lower()
    if db.session.execute(sa.select(Staff.id).where(Staff.username == username)).first():
        raise Conflict(f"The username {username!r} is taken.")
    roles = _checked_roles(roles)
    if len(password) < passwords.MIN_LENGTH:
        raise ValidationFailed("Password too short.",
                               errors={"password": [f"At least {passwords.MIN_LENGTH} characters."]})
    staff = Staff(username=username, display_name=display_name or username,
                  password_hash=passwords.hash_password(password), department_id=department_id,
                  role_rows=[StaffRole(role=role) for role in roles])
    db.session.add(staff)
    db.session.flush()
    audit.record(actor, "staff.created", "staff", staff.id,
                 {"username": username, "department_id": department_id, "roles": roles})
    db.session.flush()
    return staff


def _checked_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise ValidationFailed("Unknown or missing roles.", errors={"roles": [f"Choose from {', '.join(ROLES)}."]})
    return sorted(set(roles))


def update_staff(actor: Actor, staff_id: str, changes: dict[str, Any], expected: int | None) -> Staff:
    """Change a staff member's name, department, roles, or disable them (which revokes their tokens)."""
    _require_admin(actor)
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("No such staff member.")
    check_version(staff.version, expected)
    if staff.id == actor.id and (changes.get("active") is False or
                                 ("roles" in changes and "admin" not in changes["roles"])):
        raise Conflict("Administrators cannot disable themselves or drop their own admin role.")
    before: dict[str, Any] = {}
    if "department_id" in changes and changes["department_id"] != staff.department_id:
        _department(changes["department_id"])
        before["department_id"] = staff.department_id
        staff.department_id = changes["department_id"]
    if "roles" in changes and _checked_roles(changes["roles"]) != staff.roles:
        before["roles"] = staff.roles
        staff.role_rows = [StaffRole(role=role) for role in _checked_roles(changes["roles"])]
    for field in ("display_name", "active"):
        if field in changes and changes[field] != getattr(staff, field):
            before[field] = getattr(staff, field)
            setattr(staff, field, changes[field])
    if not before:
        return staff
    staff.updated_at = utcnow()
    db.session.flush()
    if staff.active is False:
        revoke_tokens_of("staff", staff.id)
    audit.record(actor, "staff.updated", "staff", staff.id,
                 {"before": before, "after": {k: getattr(staff, k) for k in before}})
    return staff


def reset_password(actor: Actor, staff_id: str, password: str) -> Staff:
    """Set a new password (the old tokens stop working) and lift a lockout."""
    _require_admin(actor)
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("No such staff member.")
    staff.password_hash = passwords.hash_password(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.updated_at = utcnow()
    db.session.flush()
    revoke_tokens_of("staff", staff.id)
    audit.record(actor, "staff.password_reset", "staff", staff.id)
    return staff
