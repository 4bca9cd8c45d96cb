"""Bearer tokens and the current actor.

Tokens are opaque random strings; the database keeps their SHA-256, their kind (``resident`` or ``staff``)
and whether they were revoked, so logout takes effect at once and a token of one kind is never accepted on
the other kind's surface. Domain packages register how to load the actor of each kind.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, Literal, TypeVar, cast

import sqlalchemy as sa
from flask import current_app, g, request
from flask_smorest import Blueprint

from service.core.db import db, utcnow
from service.core.errors import Forbidden, Unauthorized
from service.core.models import AccessToken

ActorKind = Literal["resident", "staff", "system"]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    department_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.id}"

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


SYSTEM = Actor(kind="system", id="system")

_loaders: dict[str, Callable[[str, str], Actor | None]] = {}


def register_actor_loader(kind: ActorKind, loader: Callable[[str, str], Actor | None]) -> None:
    """``loader(subject_id, token_id)`` returns the active actor, or None when it no longer may act."""
    _loaders[kind] = loader


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def issue_token(kind: ActorKind, subject_id: str, ttl_seconds: int) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=ttl_seconds)
    db.session.add(AccessToken(token_hash=hash_token(token), kind=kind, subject_id=subject_id,
                               expires_at=expires_at))
    return IssuedToken(token=token, expires_at=expires_at)


def revoke_token(token_id: str) -> None:
    db.session.execute(
        sa.update(AccessToken).where(AccessToken.id == token_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_tokens_of(kind: ActorKind, subject_id: str) -> None:
    db.session.execute(
        sa.update(AccessToken)
        .where(AccessToken.kind == kind, AccessToken.subject_id == subject_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(kind: ActorKind) -> Actor:
    """The actor behind the request's bearer token, which must be a live token of ``kind``."""
    token = _bearer_token()
    if token is None:
        raise Unauthorized("A bearer token is required.")
    row = db.session.execute(
        sa.select(AccessToken).where(AccessToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.kind != kind:
        raise Unauthorized("The token is not valid here.")
    if row.revoked_at is not None or row.expires_at <= utcnow():
        raise Unauthorized("The token has expired or was revoked.")
    actor = _loaders[kind](row.subject_id, row.id)
    if actor is None:
        raise Unauthorized("The account behind this token may no longer sign in.")
    g.actor = actor
    return actor


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise RuntimeError("current_actor() outside an authenticated view")
    return cast(Actor, actor)


def _security_doc(scheme: str, func: F) -> F:
    documented: F = Blueprint.doc(
        security=[{scheme: []}],
        responses={"401": {"description": "No valid token of this kind."}},
    )(func)
    return documented


def resident_required(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        authenticate("resident")
        return current_app.ensure_sync(func)(*args, **kwargs)

    return _security_doc("residentToken", cast(F, wrapper))


def staff_required(*roles: str) -> Callable[[F], F]:
    """Staff token required; with ``roles``, the staff member must hold at least one of them (else 403)."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = authenticate("staff")
            if roles and not actor.has_role(*roles):
                raise Forbidden("Your roles do not allow this.")
            return current_app.ensure_sync(func)(*args, **kwargs)

        return _security_doc("staffToken", cast(F, wrapper))

    return decorator


SECURITY_SCHEMES = {
    "residentToken": {"type": "http", "scheme": "bearer",
                      "description": "Token from POST /mp/v1/auth/login (residents)."},
    "staffToken": {"type": "http", "scheme": "bearer",
                   "description": "Token from POST /console/v1/auth/login (staff)."},
}
