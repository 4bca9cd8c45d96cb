"""``/feeds/notices.rss|atom|json``: the latest published notices, ``?category=``, with ``ETag`` and
``Last-Modified`` so that a feed reader polling an unchanged feed gets a 304 without the feed being built: the
validators come from two small queries (ids and versions of the feed's notices, and when the feed last changed)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Response, current_app, request

from service.core.api import Blueprint
from service.feeds import render
from service.notices import queries
from service.notices.models import CATEGORIES, CATEGORY_NAMES, Notice

blp = Blueprint("feeds", __name__, description="Feeds of the published notices (no token needed).")

FORMATS: dict[str, tuple[str, Callable[[render.FeedInfo, list[Notice], dict[str, str]], bytes]]] = {
    "rss": ("application/rss+xml; charset=utf-8", render.rss),
    "atom": ("application/atom+xml; charset=utf-8", render.atom),
    "json": ("application/feed+json; charset=utf-8", render.json_feed),
}
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class FeedArgs(ma.Schema):
    category = ma.fields.String(load_default=None, validate=ma.validate.OneOf(CATEGORIES),
                                metadata={"description": "announcement, policy, interpretation or public_notice"})
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=100),
                              metadata={"description": "How many of the latest notices (FEED_SIZE, 50, by default)."})


def _link(notice_id: str) -> str:
    template = current_app.config.get("NOTICE_URL_TEMPLATE") or "{base}mp/v1/notices/{id}"
    return str(template.format(base=request.url_root, id=notice_id))


def _not_modified(etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; otherwise If-Modified-Since."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag) or request.if_none_match.star_tag
    since = request.if_modified_since
    return since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since


def _feed(kind: str, args: dict[str, Any]) -> Response:
    mimetype, build = FORMATS[kind]
    config = current_app.config
    category, size = args["category"], args["limit"] or int(config["FEED_SIZE"])
    now = queries.clock()
    changed_at = queries.feed_changed_at(category, now)
    fingerprint = "|".join([kind, category or "", str(size), changed_at.isoformat() if changed_at else "",
                            *(f"{i}:{v}" for i, v in queries.feed_fingerprint(category, size, now))])
    etag = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    headers = {"Cache-Control": f"public, max-age={int(config['FEED_CACHE_SECONDS'])}", "ETag": f'"{etag}"',
               "Vary": "Accept-Encoding"}
    if changed_at is not None:
        headers["Last-Modified"] = format_datetime(changed_at.astimezone(UTC).replace(microsecond=0), usegmt=True)
    if _not_modified(etag, changed_at):
        return Response(status=304, headers=headers)
    notices = queries.feed_notices(category, size, now)
    title = str(config["FEED_TITLE"])
    info = render.FeedInfo(
        title=f"{title} · {CATEGORY_NAMES[category]}" if category else title,
        description=str(config["FEED_DESCRIPTION"]),
        home_url=request.url_root, feed_url=request.url, updated=changed_at or EPOCH,
        tz=ZoneInfo(config["TIME_ZONE"]),
    )
    body = build(info, notices, {n.id: _link(n.id) for n in notices})
    return Response(body, status=200, headers=headers, content_type=mimetype)


_DOC = {"304": {"description": "Not modified since the ETag (If-None-Match) or date (If-Modified-Since) sent."}}


@blp.route("/notices.rss", methods=["GET"])
@blp.arguments(FeedArgs, location="query")
@blp.response(200, content_type="application/rss+xml", description="RSS 2.0")
@blp.doc(responses=_DOC)
@blp.problem(422, "Unknown category or limit out of range.")
def notices_rss(args: dict[str, Any]) -> Response:
    """The latest published notices as RSS 2.0."""
    return _feed("rss", args)


@blp.route("/notices.atom", methods=["GET"])
@blp.arguments(FeedArgs, location="query")
@blp.response(200, content_type="application/atom+xml", description="Atom 1.0")
@blp.doc(responses=_DOC)
@blp.problem(422, "Unknown category or limit out of range.")
def notices_atom(args: dict[str, Any]) -> Response:
    """The latest published notices as Atom 1.0."""
    return _feed("atom", args)


@blp.route("/notices.json", methods=["GET"])
@blp.arguments(FeedArgs, location="query")
@blp.response(200, content_type="application/feed+json", description="JSON Feed 1.1")
@blp.doc(responses=_DOC)
@blp.problem(422, "Unknown category or limit out of range.")
def notices_json(args: dict[str, Any]) -> Response:
    """The latest published notices as JSON Feed 1.1."""
    return _feed("json", args)
