"""The application factory: settings, extensions, blueprints and error handlers, nothing at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

import config
from service.core.api import init_api
from service.core.db import configure_sqlite, db, engine_options, ping_when_idle, reset_write_intent, set_write_intent
from service.core.errors import register_error_handlers
from service.core.health import health
from service.core.logging import configure_logging, init_request_logging
from service.core.metrics import init_metrics
from service.core.pgwire import defer_begin
from service.core.ratelimit import init_rate_limits

API_VERSION = "1.0.0"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CivicdeskFlask(Flask):
    """Flask with the one transaction boundary of an HTTP request: commit on success, roll back otherwise."""

    def dispatch_request(self) -> Any:
        token = set_write_intent(request.method not in _SAFE_METHODS)
        try:
            response: Response = self.make_response(super().dispatch_request())
            if response.status_code < 400:
                db.session.commit()
            else:
                db.session.rollback()
            return response
        finally:
            reset_write_intent(token)


def create_app(settings: dict[str, Any] | None = None, environment: str | None = None) -> Flask:
    conf = config.load(environment, overrides=settings)
    if conf["ENV"] == "production" and (not conf["SECRET_KEY"] or conf["SECRET_KEY"] == "change-me"):  # noqa: S105
        raise RuntimeError("CIVICDESK_SECRET_KEY must be set in production")

    app = CivicdeskFlask("civicdesk", static_folder=None)
    app.config.update(conf)
    app.config["SQLALCHEMY_DATABASE_URI"] = conf["DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options()
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if conf.get("PROXY_FIX_X_FOR"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(conf["PROXY_FIX_X_FOR"]))  # type: ignore[method-assign]

    configure_logging(conf["LOG_LEVEL"], conf["LOG_JSON"])
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, conf["SQLITE_BUSY_TIMEOUT_MS"], conf["SQLITE_WAL_AUTOCHECKPOINT_PAGES"],
                             conf["SQLITE_PAGE_SIZE"])
        else:  # a pooled connection can be cut by the server or a proxy; a SQLite file cannot
            ping_when_idle(db.engine, float(conf["DATABASE_PING_AFTER_IDLE_SECONDS"]))
            defer_begin(db.engine, prepared_statements=bool(conf["DATABASE_PREPARED_STATEMENTS"]))

    init_request_logging(app)
    register_error_handlers(app)
    init_rate_limits(app)
    init_metrics(app)
    app.register_blueprint(health)

    api = init_api(app, API_VERSION)
    app.extensions["civicdesk_api"] = api

    from miniprogram_api import register as register_miniprogram_api
    from service import accounts
    from service.console_api import register as register_console_api
    from service.feeds import register as register_feeds
    from service.wechat import build_gateway

    app.extensions["wechat"] = build_gateway(conf)
    accounts.init_app(app)
    register_miniprogram_api(api)
    register_console_api(api)
    register_feeds(api)
    return app
