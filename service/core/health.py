"""Liveness and readiness probes for the load balancer and the orchestrator."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from service.core.db import db
from service.core.errors import problem_response

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@health.get("/readyz")
def readyz() -> Response:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return problem_response(503, "Service Unavailable", "The database is not reachable.",
                                slug="not-ready")
    return jsonify(status="ready", database="ok")
