"""The OpenAPI-documented API object (flask-smorest), its Swagger UI served from local assets, and JSON rules."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import flask_swagger_ui
from flask import Blueprint as FlaskBlueprint
from flask import Flask, Response, request, send_from_directory
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint

from service.core.auth import SECURITY_SCHEMES
from service.core.errors import PROBLEM_MIMETYPE, UnsupportedMediaType
from service.core.schemas import ProblemSchema

F = TypeVar("F", bound=Callable[..., Any])
SWAGGER_ASSETS = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class CivicdeskApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        """Errors are rendered by :mod:`service.core.errors` for the whole app, not by flask-smorest."""

    def _register_responses(self) -> None:
        # The shared error responses are documented with the content type the server really sends.
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MIMETYPE
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE


class Blueprint(SmorestBlueprint):
    def problem(self, status: int, description: str) -> Callable[[F], F]:
        """Document an error response of this view (its body is a problem document)."""
        decorator: Callable[[F], F] = self.alt_response(status, schema=ProblemSchema, content_type=PROBLEM_MIMETYPE,
                                                        description=description)
        return decorator


def accepts_multipart(func: F) -> F:
    """Mark a view that takes ``multipart/form-data`` instead of JSON."""
    func._accepts_multipart = True  # type: ignore[attr-defined]
    return func


def api_config(version: str) -> dict[str, Any]:
    return {
        "API_TITLE": "civicdesk",
        "API_VERSION": version,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    }


def init_api(app: Flask, version: str) -> CivicdeskApi:
    for key, value in api_config(version).items():
        app.config.setdefault(key, value)
    api = CivicdeskApi(app, spec_kwargs={
        "info": {"description": "Public-service requests, processes, notices and consultations. "
                                "Errors are application/problem+json (RFC 9457)."},
    })
    api.spec.components.security_scheme("residentToken", SECURITY_SCHEMES["residentToken"])
    api.spec.components.security_scheme("staffToken", SECURITY_SCHEMES["staffToken"])

    assets = FlaskBlueprint("swagger_assets", __name__)

    @assets.get("/api/docs/assets/<path:filename>")
    def swagger_asset(filename: str) -> Response:
        return send_from_directory(SWAGGER_ASSETS, filename, max_age=86400)

    app.register_blueprint(assets)

    @app.before_request
    def _require_json_bodies() -> None:
        if request.method not in _BODY_METHODS or not _has_body():
            return
        view = app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, "_accepts_multipart", False):
            if request.mimetype != "multipart/form-data":
                raise UnsupportedMediaType("Send this body as multipart/form-data.")
            return
        if not request.is_json:
            raise UnsupportedMediaType("Send the body as application/json.")

    return api


def _has_body() -> bool:
    if request.content_length:
        return True
    return request.headers.get("Transfer-Encoding", "").lower() == "chunked"
