"""The resident-facing HTTP API of the mini program, ``/mp/v1``."""

from __future__ import annotations

from flask_smorest import Api

from miniprogram_api import attachments, auth, consultations, faq, me, notices, requests, services, subscriptions


def register(api: Api) -> None:
    for module in (auth, me, services, attachments, requests, consultations, faq, subscriptions, notices):
        api.register_blueprint(module.blp, url_prefix=f"/mp/v1{module.PREFIX}")
