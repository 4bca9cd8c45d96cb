"""Feed documents from notices: RSS 2.0 and Atom 1.0 through feedgen, JSON Feed 1.1 (which feedgen does not
write) by hand. Bodies are plain text, given to feed readers as escaped HTML paragraphs. C0 control characters
(which XML cannot hold; inputs refuse them, but older rows may have them) are left out of every text."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from feedgen.feed import FeedGenerator

from service.core.search import strip_control_characters as _clean
from service.notices.models import CATEGORY_NAMES, Notice

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


@dataclass(frozen=True)
class FeedInfo:
    title: str
    description: str
    home_url: str
    feed_url: str
    updated: datetime
    language: str = "zh-CN"
    tz: tzinfo = UTC


def body_html(text: str) -> str:
    """Plain text as HTML: escaped, blank-line separated paragraphs, line breaks kept."""
    paragraphs = [p.strip() for p in _clean(text).replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join("<p>" + html.escape(p).replace("\n", "<br/>") + "</p>" for p in paragraphs)


def _summary(notice: Notice, length: int = 140) -> str:
    if notice.summary and _clean(notice.summary).strip():
        return _clean(notice.summary)
    text = " ".join(_clean(notice.body).split())
    return text if len(text) <= length else text[:length] + "…"


def _dates(notice: Notice, tz: tzinfo) -> tuple[datetime, datetime]:
    """When a notice was published and last changed, in the feed's time zone."""
    assert notice.published_at is not None
    modified = max(notice.published_at, notice.revised_at or notice.published_at)
    return notice.published_at.astimezone(tz), modified.astimezone(tz)


def _generator(info: FeedInfo, notices: list[Notice], links: dict[str, str], atom_url: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(info.feed_url)
    fg.title(_clean(info.title))
    fg.description(_clean(info.description))
    fg.subtitle(_clean(info.description))
    fg.author({"name": _clean(info.title)})
    fg.link(href=atom_url, rel="self")
    fg.link(href=info.home_url, rel="alternate")  # after "self": RSS's <link> is the last one given
    fg.language(info.language)
    fg.updated(info.updated.astimezone(info.tz))
    fg.lastBuildDate(info.updated.astimezone(info.tz))
    fg.generator("civicdesk")
    for notice in notices:
        entry = fg.add_entry(order="append")
        entry.id(links[notice.id])
        entry.guid(links[notice.id], permalink=True)
        entry.title(_clean(notice.title))
        entry.link(href=links[notice.id])
        entry.description(_summary(notice))
        entry.content(body_html(notice.body), type="html")
        entry.category(term=notice.category, label=CATEGORY_NAMES.get(notice.category, notice.category))
        published, modified = _dates(notice, info.tz)
        entry.published(published)
        entry.updated(modified)
    return fg


def rss(info: FeedInfo, notices: list[Notice], links: dict[str, str]) -> bytes:
    return bytes(_generator(info, notices, links, info.feed_url).rss_str(pretty=False))


def atom(info: FeedInfo, notices: list[Notice], links: dict[str, str]) -> bytes:
    return bytes(_generator(info, notices, links, info.feed_url).atom_str(pretty=False))


def json_feed(info: FeedInfo, notices: list[Notice], links: dict[str, str]) -> bytes:
    items: list[dict[str, Any]] = []
    for notice in notices:
        published, modified = _dates(notice, info.tz)
        items.append({
            "id": links[notice.id],
            "url": links[notice.id],
            "title": _clean(notice.title),
            "summary": _summary(notice),
            "content_html": body_html(notice.body),
            "content_text": _clean(notice.body),
            "date_published": published.isoformat(),
            "date_modified": modified.isoformat(),
            "tags": [CATEGORY_NAMES.get(notice.category, notice.category)],
            "language": info.language,
        })
    document = {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "description": info.description,
        "home_page_url": info.home_url,
        "feed_url": info.feed_url,
        "language": info.language,
        "authors": [{"name": info.title}],
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
