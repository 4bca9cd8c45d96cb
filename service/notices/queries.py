"""Reads of notices: the console's list and detail, the public list (with Chinese full-text search), detail and
attachments, and what the feeds show.

"Public" is decided at read time: a published notice, or a scheduled one whose time has come (the worker's
``publish_due_notices`` records the change later; readers never wait for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.attachments.models import Attachment
from service.core import search
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.core.errors import Gone, NotFound
from service.core.pagination import Page, paginate
from service.core.search import SearchPage
from service.notices import operations, permissions
from service.notices.models import CATEGORY_NAMES, PUBLIC_STATUSES, Notice, NoticeRevision


def clock() -> datetime:
    """Now, as every public read sees it (tests move it)."""
    return utcnow()


def is_public(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(Notice.status.in_(PUBLIC_STATUSES), Notice.published_at <= now)


def _was_public(notice: Notice) -> bool:
    """A withdrawn notice was public when its publish time came before the withdrawal."""
    return notice.status != "withdrawn" or (
        notice.published_at is not None and notice.withdrawn_at is not None
        and notice.published_at <= notice.withdrawn_at)


def _attachment_infos(notice: Notice) -> list[Attachment]:
    if not notice.attachments:
        return []
    rows = {a.id: a for a in db.session.execute(
        sa.select(Attachment).where(Attachment.id.in_(notice.attachments))).scalars()}
    return [rows[i] for i in notice.attachments if i in rows]


@dataclass
class NoticeView:
    """A notice with what a view of it adds: attachments' metadata, highlights, the actions allowed."""

    notice: Notice
    allowed_actions: list[str] = field(default_factory=list)
    words: tuple[str, ...] = ()
    revisions: list[NoticeRevision] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.notice, name)

    @property
    def status(self) -> str:
        return self.notice.status

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES.get(self.notice.category, self.notice.category)

    @property
    def attachment_infos(self) -> list[Attachment]:
        return _attachment_infos(self.notice)

    @property
    def highlighted_title(self) -> str:
        return search.highlight(self.notice.title, self.words)

    @property
    def snippet(self) -> str:
        return search.snippet(self.notice.summary or self.notice.body if not self.words else self.notice.body,
                              self.words)

    @property
    def pending_revision(self) -> dict[str, Any] | None:
        pending = self.notice.pending_revision
        return None if pending is None else {**pending, "edited_at": datetime.fromisoformat(pending["edited_at"])}

    @property
    def history(self) -> list[dict[str, Any]]:
        return [{**entry, "at": datetime.fromisoformat(entry["at"])} for entry in self.notice.history]


@dataclass
class PublicNoticeView(NoticeView):
    @property
    def status(self) -> str:
        return "published"  # a scheduled notice whose time has come is published for every reader


def _listing(stmt: sa.Select[Any], q: str | None, cursor: str | None, limit: int | None,
             view: type[NoticeView], what: str, actor: Actor | None = None) -> SearchPage:
    """One page of ``stmt``'s notices: newest first, or with ``q`` the most relevant first."""
    if not q:
        page = paginate(stmt, [Notice.published_at, Notice.id] if view is PublicNoticeView
                        else [Notice.updated_at, Notice.id], cursor=cursor, limit=limit, descending=True)
        return SearchPage(items=[_view(view, n, actor) for n in page.items], next_cursor=page.next_cursor)
    query, page = search.ranked(stmt, Notice.id, operations.SEARCH_KIND, q, cursor, limit)
    items = [_view(view, notice, actor, query.words) for notice in page.items]
    message = None if items or cursor else search.nothing_found(q, what)
    return SearchPage(items=items, next_cursor=page.next_cursor, q=q, words=list(query.words), message=message)


def _view(view: type[NoticeView], notice: Notice, actor: Actor | None, words: tuple[str, ...] = ()) -> NoticeView:
    allowed = operations.allowed_actions(actor, notice) if actor is not None else []
    return view(notice, allowed_actions=allowed, words=words)


# --- public --------------------------------------------------------------------------------------------------

def public_page(q: str | None, category: str | None, cursor: str | None, limit: int | None,
                now: datetime | None = None) -> SearchPage:
    """Public notices, newest first; with ``q`` the most relevant first, with highlights."""
    stmt = sa.select(Notice).where(is_public(now or clock()))
    if category is not None:
        stmt = stmt.where(Notice.category == category)
    return _listing(stmt, q, cursor, limit, PublicNoticeView, "公告")


def public_notice(notice_id: str, now: datetime | None = None) -> PublicNoticeView:
    """A public notice with its revision notes (404 never or not yet public, even when withdrawn before its
    time; 410 withdrawn after being public)."""
    now = now or clock()
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.published_at is None or notice.published_at > now or notice.status not in (
            *PUBLIC_STATUSES, "withdrawn") or not _was_public(notice):
        raise NotFound("No such notice.")
    if notice.status == "withdrawn":
        raise Gone("This notice has been withdrawn.", withdrawn_at=notice.withdrawn_at.isoformat()
                   if notice.withdrawn_at else None)
    revisions = list(db.session.execute(
        sa.select(NoticeRevision).where(NoticeRevision.notice_id == notice.id, NoticeRevision.number > 1)
        .order_by(NoticeRevision.number)).scalars())
    return PublicNoticeView(notice, revisions=revisions)


def public_attachment(notice_id: str, attachment_id: str, now: datetime | None = None) -> Attachment:
    view = public_notice(notice_id, now)
    for attachment in view.attachment_infos:
        if attachment.id == attachment_id:
            return attachment
    raise NotFound("No such attachment.")


def feed_notices(category: str | None, limit: int, now: datetime | None = None) -> list[Notice]:
    """The latest public notices for a feed, newest first."""
    stmt = sa.select(Notice).where(is_public(now or clock()))
    if category is not None:
        stmt = stmt.where(Notice.category == category)
    return list(db.session.execute(stmt.order_by(Notice.published_at.desc(), Notice.id.desc()).limit(limit))
                .scalars())


def feed_fingerprint(category: str | None, limit: int, now: datetime | None = None) -> list[tuple[str, int]]:
    """(id, version) of what :func:`feed_notices` would return: enough to tell whether a feed changed."""
    stmt = sa.select(Notice.id, Notice.version).where(is_public(now or clock()))
    if category is not None:
        stmt = stmt.where(Notice.category == category)
    rows = db.session.execute(stmt.order_by(Notice.published_at.desc(), Notice.id.desc()).limit(limit)).all()
    return [(row.id, row.version) for row in rows]


def feed_changed_at(category: str | None, now: datetime | None = None) -> datetime | None:
    """When what the feeds show last changed: a notice appearing, being revised (perhaps into or out of a
    category) or being withdrawn after it was public. Every category counts, whatever ``category`` is: a notice
    that leaves a category's feed changes it too. (Conservative: a change elsewhere moves it as well.)"""
    del category
    now = now or clock()
    was_public = sa.or_(Notice.status.in_(PUBLIC_STATUSES),
                        sa.and_(Notice.status == "withdrawn", Notice.published_at <= Notice.withdrawn_at))
    stmt = sa.select(sa.func.max(Notice.updated_at), sa.func.max(Notice.published_at)).where(
        was_public, Notice.published_at <= now)
    updated, published = db.session.execute(stmt).one()
    moments = [m for m in (updated, published) if m is not None]
    return max(moments) if moments else None


# --- staff ---------------------------------------------------------------------------------------------------

def staff_page(actor: Actor, status: str | None, category: str | None, q: str | None, cursor: str | None,
               limit: int | None) -> SearchPage:
    stmt = sa.select(Notice)
    if status is not None:
        stmt = stmt.where(Notice.status == status)
    if category is not None:
        stmt = stmt.where(Notice.category == category)
    return _listing(stmt, q, cursor, limit, NoticeView, "公告", actor)


def staff_view(actor: Actor, notice_id: str) -> NoticeView:
    notice = db.session.get(Notice, notice_id)
    if notice is None or not permissions.can_view(actor):
        raise NotFound("No such notice.")
    return NoticeView(notice, allowed_actions=operations.allowed_actions(actor, notice))


def revisions_page(actor: Actor, notice_id: str, cursor: str | None, limit: int | None) -> Page[NoticeRevision]:
    staff_view(actor, notice_id)
    stmt = sa.select(NoticeRevision).where(NoticeRevision.notice_id == notice_id)
    return paginate(stmt, [NoticeRevision.number], cursor=cursor, limit=limit)
