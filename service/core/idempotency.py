"""``Idempotency-Key`` for writes a weak mobile network may retry (IETF httpapi idempotency-key draft).

A key is scoped to the caller and stored with a fingerprint of the request. The claim is committed before
the work starts, so a concurrent retry sees it and gets 409; the response is stored in the same transaction
as the work it reports, so a committed change always has its replayable response and a rolled-back one
leaves no key behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Response, current_app, make_response, request
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from service.core.auth import current_actor
from service.core.db import db, utcnow
from service.core.errors import BadRequest, Conflict, Problem, ValidationFailed
from service.core.models import IdempotencyKey

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
_REPLAYED_HEADERS = ("Content-Type", "Location", "ETag")


def request_fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.query_string.decode()}\n".encode())
    if request.is_json:
        body = request.get_json(silent=True)
        if body is None:
            digest.update(request.get_data())
        else:
            digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    elif request.mimetype == "multipart/form-data":
        # The boundary differs between retries of one upload; the fields and file contents do not.
        for name, value in sorted(request.form.items(multi=True)):
            digest.update(f"{name}={value}\n".encode())
        for name, storage in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            digest.update(f"{name}:{storage.filename}:".encode())
            digest.update(hashlib.sha256(storage.stream.read()).digest())
            storage.stream.seek(0)
    else:
        digest.update(request.get_data())
    return digest.hexdigest()


def _read_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip().strip('"')
    if not key or len(key) > 255 or not key.isprintable():
        raise BadRequest(f"{HEADER} must be 1 to 255 printable characters.")
    return key


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body or "", status=row.response_status or 200)
    for name, value in (row.response_headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(scope: str, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Commit a "processing" claim for the key; return the finished row to replay instead, if there is one."""
    now = utcnow()
    lock_window = timedelta(seconds=current_app.config["IDEMPOTENCY_LOCK_SECONDS"])
    for _attempt in range(2):
        row = db.session.get(IdempotencyKey, (scope, key), populate_existing=True)
        if row is not None and row.expires_at <= now:
            db.session.delete(row)
            db.session.flush()
            row = None
        if row is None:
            db.session.add(IdempotencyKey(
                scope=scope, key=key, fingerprint=fingerprint, state="processing", locked_at=now,
                expires_at=now + timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"]),
            ))
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()  # a concurrent request claimed it first: look again
                continue
            return None
        if row.fingerprint != fingerprint:
            raise ValidationFailed(f"This {HEADER} was already used with a different request.",
                                   errors={HEADER: ["Key reused with a different request body."]})
        if row.state == "done":
            return row
        if row.locked_at > now - lock_window:
            raise Conflict(f"A request with this {HEADER} is still being processed; retry later.",
                           headers={"Retry-After": "1"})
        row.locked_at = now  # the first attempt died mid-way: take the claim over
        db.session.commit()
        return None
    raise Conflict(f"A request with this {HEADER} is still being processed; retry later.")


def _release(scope: str, key: str, error: BaseException | None = None) -> None:
    if isinstance(error, Problem) and error.keep_changes:
        db.session.commit()
    else:
        db.session.rollback()
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.scope == scope,
                                                       IdempotencyKey.key == key))
    db.session.commit()


def idempotent(*, required: bool = False) -> Callable[[F], F]:
    """Make a write replayable under an ``Idempotency-Key``; place it below the auth decorator."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _read_key()
            if key is None:
                if required:
                    raise BadRequest(f"This request needs an {HEADER} header.",
                                     errors={HEADER: ["Missing header."]})
                return func(*args, **kwargs)
            scope = current_actor().scope
            fingerprint = request_fingerprint()
            db.session.commit()  # end the authentication read before claiming the key on its own
            done = _claim(scope, key, fingerprint)
            if done is not None:
                return _replay(done)
            try:
                response = make_response(func(*args, **kwargs))
            except BaseException as error:
                _release(scope, key, error)
                raise
            if response.status_code >= 400:
                _release(scope, key)
                return response
            db.session.execute(
                sa.update(IdempotencyKey)
                .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
                .values(state="done", response_status=response.status_code,
                        response_body=response.get_data(as_text=True),
                        response_headers={h: response.headers[h] for h in _REPLAYED_HEADERS
                                          if h in response.headers})
            )
            return response

        documented: F = Blueprint.doc(parameters=[{
            "in": "header", "name": HEADER, "required": required, "schema": {"type": "string", "maxLength": 255},
            "description": "Makes retries safe: the same key and body replay the first response.",
        }])(wrapper)
        return documented

    return decorator
