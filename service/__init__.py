"""civicdesk: the backend of a district's digital public-service platform."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(settings: dict[str, Any] | None = None, environment: str | None = None) -> Flask:
    """The application factory (imported lazily, so ``service.wechat.fake`` and the CLI stay light)."""
    from service.app import create_app as factory

    return factory(settings, environment)
