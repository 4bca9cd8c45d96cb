"""Resident sign-in with a WeChat login code, and sign-out."""

from __future__ import annotations

from typing import Any

from flask import current_app

from service.accounts import operations
from service.accounts.schemas import ResidentLoginResultSchema, ResidentLoginSchema
from service.core.api import Blueprint
from service.core.auth import current_actor, resident_required
from service.core.ratelimit import limiter

PREFIX = "/auth"
blp = Blueprint("mp_auth", __name__, description="Resident sign-in (WeChat code2session).")


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@blp.arguments(ResidentLoginSchema)
@blp.response(200, ResidentLoginResultSchema)
@blp.problem(401, "WeChat rejected the login code.")
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange the code of ``wx.login()`` for a civicdesk token (the WeChat session key stays here)."""
    result = operations.login_resident(body["code"], current_app.extensions["wechat"])
    return {"token": result.token.token, "expires_at": result.token.expires_at, "resident": result.resident}


@blp.route("/logout", methods=["POST"])
@resident_required
@blp.response(204)
def logout() -> None:
    """Revoke the token of this request."""
    operations.logout(current_actor())
