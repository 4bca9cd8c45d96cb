"""Staff sign-in with username and password (lockout after repeated failures), sign-out, and who am I."""

from __future__ import annotations

from typing import Any

from flask import current_app

from service.accounts import operations, queries
from service.accounts.schemas import StaffLoginResultSchema, StaffLoginSchema, StaffSchema
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.core.ratelimit import limiter

PREFIX = "/auth"
blp = Blueprint("console_auth", __name__, description="Staff sign-in.")


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@blp.arguments(StaffLoginSchema)
@blp.response(200, StaffLoginResultSchema)
@blp.problem(401, "Wrong username or password.")
@blp.problem(429, "Locked after repeated failures, or rate limited; see Retry-After.")
def login(body: dict[str, Any]) -> dict[str, Any]:
    result = operations.login_staff(body["username"], body["password"])
    return {"token": result.token.token, "expires_at": result.token.expires_at, "staff": result.staff}


@blp.route("/logout", methods=["POST"])
@staff_required()
@blp.response(204)
def logout() -> None:
    operations.logout(current_actor())


@blp.route("/me", methods=["GET"])
@staff_required()
@blp.response(200, StaffSchema)
def me() -> Any:
    return queries.get_staff(current_actor().id)
