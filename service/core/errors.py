"""One error shape for every surface: RFC 9457 ``application/problem+json``.

Domain code raises a :class:`Problem` subclass carrying its HTTP status; the handlers registered here render
it, and everything else (werkzeug's HTTP errors, validation errors from the schemas, stale writes, unexpected
exceptions) ends up in the same shape. Nothing ever renders HTML or a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Flask, Response, g
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from service.core.db import db

log = logging.getLogger("civicdesk.errors")

PROBLEM_MIMETYPE = "application/problem+json"


class Problem(Exception):
    status = 500
    title = "Internal Server Error"
    slug = ""
    # A refusal that must still be remembered (a failed login counts towards the lockout) keeps the
    # transaction's changes instead of rolling them back.
    keep_changes = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}
        self.extra = extra


class BadRequest(Problem):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(Problem):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="civicdesk"'})
        super().__init__(detail, **kwargs)


class Forbidden(Problem):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(Problem):
    status, title, slug = 409, "Conflict", "conflict"


class StaleVersion(Conflict):
    title, slug = "Stale version", "stale-version"


class Gone(Problem):
    status, title, slug = 410, "Gone", "gone"


class PayloadTooLarge(Problem):
    status, title, slug = 413, "Payload Too Large", "payload-too-large"


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class ValidationFailed(Problem):
    status, title, slug = 422, "Validation failed", "validation-error"


def load_action_data(schema: ma.Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    """An action's ``data`` through its schema; errors are reported under ``data.<field>`` (422)."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ma.ValidationError as invalid:
        messages = invalid.normalized_messages()
        raise ValidationFailed(
            "The action's data is invalid.",
            errors={f"data.{field}": list(m) if isinstance(m, list) else [str(m)] for field, m in messages.items()},
        ) from invalid
    return loaded


class TooManyRequests(Problem):
    status, title, slug = 429, "Too Many Requests", "too-many-requests"


class UpstreamUnavailable(Problem):
    status, title, slug = 503, "Service Unavailable", "upstream-unavailable"


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    slug: str = "",
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_validation_messages(messages: Any) -> dict[str, list[str]]:
    """webargs reports ``{location: {field: [msg]}}``; the API promises ``{field: [msg]}``."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, list) and all(isinstance(item, str) for item in node):
            flat.setdefault(prefix or "_body", []).extend(node)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(f"{prefix}.{index}", value)
        else:
            flat.setdefault(prefix or "_body", []).append(str(node))

    if isinstance(messages, Mapping):
        for location, fields in messages.items():
            walk("", fields) if location in ("json", "query", "form", "files", "headers", "view_args") else walk(
                str(location), fields
            )
    else:
        walk("", messages)
    return flat


def _render_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    # werkzeug knows some headers of its own (Allow on a 405, Retry-After on a 429).
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            headers.setdefault(name, value)
    if status == 422:
        errors = flatten_validation_messages(data.get("messages") or data.get("errors") or {})
        return problem_response(
            422, "Validation failed", "The request body or parameters are invalid.",
            slug="validation-error", errors=errors, headers=headers,
        )
    if status == 429 and "Retry-After" not in headers:
        from service.core.ratelimit import retry_after_seconds

        seconds = retry_after_seconds()
        headers["Retry-After"] = str(seconds or 60)
    if status == 400 and data.get("messages"):
        errors = flatten_validation_messages(data["messages"])
        return problem_response(400, "Bad Request", "The request is malformed.", slug="bad-request",
                                errors=errors, headers=headers)
    title = error.name if status != 500 else "Internal Server Error"
    detail = data.get("message") or error.description
    return problem_response(status, title, detail if status != 500 else None, headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        if error.keep_changes:
            db.session.commit()
        else:
            db.session.rollback()
        return problem_response(
            error.status, error.title, error.detail, slug=error.slug,
            errors=error.errors, headers=error.headers, extra=error.extra,
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        db.session.rollback()
        return _render_http_exception(error)

    @app.errorhandler(StaleDataError)
    def _stale(_error: StaleDataError) -> Response:
        db.session.rollback()
        return problem_response(409, "Stale version", "Somebody else changed this object first; reload it.",
                                slug="stale-version")

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError) -> Response:
        db.session.rollback()
        log.info("integrity conflict: %s", error.orig)
        return problem_response(409, "Conflict", "The change conflicts with existing data.", slug="conflict")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        db.session.rollback()
        log.exception("unhandled exception", extra={"request_id": g.get("request_id")})
        return problem_response(500, "Internal Server Error",
                                "An unexpected error occurred; quote the request id when reporting it.")
