"""Public feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1) of the published notices, ``/feeds``."""

from __future__ import annotations

from flask_smorest import Api


def register(api: Api) -> None:
    from service.feeds import notices

    api.register_blueprint(notices.blp, url_prefix="/feeds")
