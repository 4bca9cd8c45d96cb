"""The notice feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1 read back by a real feed parser, the category filter,
escaping of Chinese text and HTML, and the conditional GET (ETag, Last-Modified, 304)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import feedparser
import jsonschema
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.accounts.models import Department, Staff
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.notices import operations
from service.notices.models import Notice

FEEDS = {"rss": ("/feeds/notices.rss", "application/rss+xml", "rss20"),
         "atom": ("/feeds/notices.atom", "application/atom+xml", "atom10"),
         "json": ("/feeds/notices.json", "application/feed+json", "json11")}
TRICKY_TITLE = "关于<script>alert(1)</script>“A&B”路段施工的公告"
TRICKY_BODY = "施工路段：人民路 & 解放路 <b>夜间</b>施工。\n\n如有疑问请致电12345。"


@pytest.fixture
def publish(app: Flask, demo: Flask) -> Callable[..., str]:
    """Draft, submit and approve (now) a notice through the operations; returns its id."""
    with app.app_context():
        office = db.session.execute(sa.select(Department).where(Department.code == "gov-office")).scalar_one().id
        ids = {s.username: s.id for s in db.session.execute(sa.select(Staff)).scalars()}
    author = Actor(kind="staff", id=ids["publisher"], department_id=office, roles=frozenset({"publisher"}))
    reviewer = Actor(kind="staff", id=ids["reviewer"], department_id=office, roles=frozenset({"reviewer"}))

    def publish(title: str, body: str = "正文", category: str = "announcement", ago: timedelta = timedelta(0),
                withdraw: bool = False) -> str:
        with app.app_context():
            at = utcnow() - ago
            notice = operations.create(author, title, body, category, at=at)
            operations.act(author, notice.id, "submit", None, {}, notice.version, at=at)
            operations.act(reviewer, notice.id, "approve", None, {}, notice.version, at=at)
            if withdraw:
                operations.act(reviewer, notice.id, "withdraw", "撤回", {}, notice.version, at=at)
            db.session.commit()
            return notice.id

    return publish


# JSON Feed 1.1 (https://jsonfeed.org/version/1.1): what a reader relies on. feedparser 6.0 reads RSS and Atom
# only, so the JSON feed is checked against this and read into the same shape.
JSON_FEED_SCHEMA = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"}, "home_page_url": {"type": "string"}, "feed_url": {"type": "string"},
        "language": {"type": "string"},
        "authors": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "items": {"type": "array", "items": {
            "type": "object",
            "required": ["id"],
            "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
            "properties": {
                "id": {"type": "string"}, "url": {"type": "string"}, "title": {"type": "string"},
                "content_html": {"type": "string"}, "content_text": {"type": "string"},
                "summary": {"type": "string"},
                "date_published": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*[+-]\d\d:\d\d$"},
                "date_modified": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }},
    },
}


def read(response: Any) -> Any:
    if response.mimetype != "application/feed+json":
        return feedparser.parse(response.data)
    document = json.loads(response.data)
    jsonschema.validate(document, JSON_FEED_SCHEMA)
    return feedparser.FeedParserDict(
        bozo=False, version="json11", feed=feedparser.FeedParserDict(title=document["title"]),
        entries=[feedparser.FeedParserDict(
            link=item["url"], title=item["title"], content=[feedparser.FeedParserDict(value=item["content_html"])],
            summary=item["summary"], published_parsed=datetime.fromisoformat(item["date_published"]).timetuple(),
        ) for item in document["items"]])


def parse(client: FlaskClient, kind: str, **query: Any) -> Any:
    url, mimetype, version = FEEDS[kind]
    response = client.get(url, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == mimetype
    assert response.headers["Content-Type"].endswith("charset=utf-8")
    parsed = read(response)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    return parsed


@pytest.mark.parametrize("kind", FEEDS)
def test_feeds_parse_and_hold_the_latest_published_notices(client: FlaskClient, publish: Callable[..., str],
                                                           kind: str) -> None:
    older = publish("关于城区路灯集中维修的公告", "路灯维修。", ago=timedelta(days=2))
    newer = publish(TRICKY_TITLE, TRICKY_BODY, category="public_notice", ago=timedelta(days=1))
    publish("已撤回的公告", withdraw=True)

    parsed = parse(client, kind)

    assert parsed.feed.title == "civicdesk 政务公开"
    assert [entry.link.rsplit("/", 1)[-1] for entry in parsed.entries] == [newer, older]
    first = parsed.entries[0]
    assert first.title == TRICKY_TITLE  # Chinese and markup come back as the text they were
    content = first.content[0].value if "content" in first else first.summary
    assert "&lt;b&gt;夜间&lt;/b&gt;" in content
    assert "人民路 &amp; 解放路" in content
    assert "<script>" not in content
    assert first.published_parsed is not None


@pytest.mark.parametrize("kind", FEEDS)
def test_category_filter_and_size(client: FlaskClient, publish: Callable[..., str], kind: str) -> None:
    policy = publish("关于促进民营经济发展的若干措施", category="policy")
    for n in range(3):
        publish(f"通知{n}", ago=timedelta(hours=n + 1))

    assert [e.link.rsplit("/", 1)[-1] for e in parse(client, kind, category="policy").entries] == [policy]
    assert len(parse(client, kind, limit=2).entries) == 2
    assert len(parse(client, kind).entries) == 4
    assert client.get(FEEDS[kind][0], query_string={"category": "gossip"}).status_code == 422
    assert client.get(FEEDS[kind][0], query_string={"limit": 101}).status_code == 422


def test_the_default_is_the_latest_fifty(app: Flask, client: FlaskClient, publish: Callable[..., str]) -> None:
    ids = [publish(f"第{n}号通知", ago=timedelta(minutes=60 - n)) for n in range(52)]
    app.config["FEED_SIZE"] = 50

    entries = parse(client, "json").entries

    assert [e.link.rsplit("/", 1)[-1] for e in entries] == ids[::-1][:50]


@pytest.mark.parametrize("kind", FEEDS)
def test_conditional_get(client: FlaskClient, publish: Callable[..., str], kind: str) -> None:
    url = FEEDS[kind][0]
    notice = publish("停水通知", ago=timedelta(hours=1))
    first = client.get(url)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert parsedate_to_datetime(last_modified) <= utcnow()

    by_etag = client.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.data == b""
    assert by_etag.headers["ETag"] == etag
    assert by_etag.headers["Cache-Control"] == "public, max-age=300"
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)
    assert client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides when both are sent
    assert client.get(url, headers={"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
                      ).status_code == 200

    # a new notice, and a withdrawal, change the feed: the old validators no longer match
    publish("停电通知")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    etag = changed.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    with client.application.app_context():
        reviewer = db.session.execute(sa.select(Staff).where(Staff.username == "reviewer")).scalar_one()
        from service.notices.models import Notice

        version = db.session.get(Notice, notice).version  # type: ignore[union-attr]
        operations.act(Actor(kind="staff", id=reviewer.id, roles=frozenset({"reviewer"})), notice, "withdraw",
                       "信息有误", {}, version)
        db.session.commit()
    after = client.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert len(read(after).entries) == 1


def test_an_empty_feed_is_valid(client: FlaskClient, demo: Flask) -> None:
    for kind in FEEDS:
        assert parse(client, kind).entries == []
    assert "Last-Modified" not in client.get("/feeds/notices.rss").headers


def _actors(app: Flask) -> tuple[Actor, Actor]:
    with app.app_context():
        ids = {s.username: s.id for s in db.session.execute(sa.select(Staff)).scalars()}
    return (Actor(kind="staff", id=ids["publisher"], roles=frozenset({"publisher"})),
            Actor(kind="staff", id=ids["reviewer"], roles=frozenset({"reviewer"})))


def test_a_scheduled_notice_enters_the_feeds_exactly_at_its_time(app: Flask, client: FlaskClient, demo: Flask,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    author, reviewer = _actors(app)
    publish_at = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    with app.app_context():
        notice = operations.create(author, "停电通知", "3月1日停电", "announcement")
        operations.act(author, notice.id, "submit", None, {}, notice.version)
        operations.act(reviewer, notice.id, "approve", None, {"publish_at": publish_at}, notice.version)
        db.session.commit()
        notice_id = notice.id

    def feed_at(moment: datetime, **headers: str) -> Any:
        monkeypatch.setattr("service.notices.queries.utcnow", lambda: moment)
        return client.get("/feeds/notices.rss", headers=headers)

    before = feed_at(publish_at - timedelta(seconds=1))
    assert read(before).entries == []
    assert "Last-Modified" not in before.headers
    on_time = feed_at(publish_at)
    assert [e.link.rsplit("/", 1)[-1] for e in read(on_time).entries] == [notice_id]
    assert parsedate_to_datetime(on_time.headers["Last-Modified"]) == publish_at
    assert on_time.headers["ETag"] != before.headers["ETag"]
    since = format_datetime(publish_at - timedelta(seconds=1), usegmt=True)
    assert feed_at(publish_at, **{"If-Modified-Since": since}).status_code == 200
    assert feed_at(publish_at + timedelta(hours=1),
                   **{"If-Modified-Since": on_time.headers["Last-Modified"]}).status_code == 304


def test_a_notice_leaving_a_category_feed_changes_its_last_modified(app: Flask, client: FlaskClient,
                                                                   publish: Callable[..., str]) -> None:
    author, reviewer = _actors(app)
    publish("关于促进民营经济发展的若干措施", category="policy", ago=timedelta(days=2))
    moving = publish("关于调整停车收费标准的通知", category="policy", ago=timedelta(days=1))
    url = "/feeds/notices.rss"
    first = client.get(url, query_string={"category": "policy"})
    assert len(read(first).entries) == 2
    last_modified = first.headers["Last-Modified"]

    with app.app_context():
        version = db.session.get(Notice, moving).version  # type: ignore[union-attr]
        operations.edit(author, moving, {"category": "announcement"}, "分类有误", version,
                        at=utcnow() + timedelta(seconds=2))
        operations.act(reviewer, moving, "approve", None, {}, version + 1, at=utcnow() + timedelta(seconds=2))
        db.session.commit()

    after = client.get(url, query_string={"category": "policy"}, headers={"If-Modified-Since": last_modified})
    assert after.status_code == 200
    assert len(read(after).entries) == 1
    assert parsedate_to_datetime(after.headers["Last-Modified"]) > parsedate_to_datetime(last_modified)


@pytest.mark.parametrize("kind", FEEDS)
def test_control_characters_of_older_rows_are_left_out(app: Flask, client: FlaskClient,
                                                       publish: Callable[..., str], kind: str) -> None:
    notice_id = publish("停水通知", "正文")
    with app.app_context():  # as a row written before inputs refused them (PostgreSQL never holds NUL)
        db.session.execute(sa.update(Notice).where(Notice.id == notice_id).values(
            title="停水\x0b通知", summary="摘要\x0c", body="第一段\x1f\n\n第二段\x08。"))
        db.session.commit()

    entry = parse(client, kind).entries[0]
    assert entry.title == "停水通知"
    content = entry.content[0].value if "content" in entry else entry.summary
    assert "第一段" in content
    assert "\x1f" not in content
    assert "\x08" not in content
    assert client.head(FEEDS[kind][0]).status_code == 200
