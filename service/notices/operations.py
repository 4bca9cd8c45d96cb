"""State changes of notices: draft, edit, submit, approve (now or at a set time), reject, publish, withdraw, and
the scheduled publication a worker runs (``publish_due_notices``).

Each takes the actor, checks permission, appends to the notice's history, writes the audit record, keeps the
search index in step in the same transaction, and flushes; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa

from service.attachments.queries import own_attachments
from service.core import audit, search
from service.core.auth import SYSTEM, Actor
from service.core.concurrency import check_version
from service.core.db import db, utcnow
from service.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, load_action_data
from service.notices import permissions
from service.notices.models import Notice, NoticeRevision
from service.notices.schemas import ApproveDataSchema, NoDataSchema

SEARCH_KIND = "notice"
CONTENT_FIELDS = ("title", "summary", "body", "category", "attachments")

# action -> (statuses it is possible in, status it leads to; approve may lead to scheduled instead)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({"draft"}), "in_review"),
    "approve": (frozenset({"in_review"}), "published"),
    # reject: a scheduled notice only before its time (from then on it is published: withdraw it instead)
    "reject": (frozenset({"in_review", "scheduled"}), "draft"),
    "publish": (frozenset({"scheduled"}), "published"),
    "withdraw": (frozenset({"scheduled", "published"}), "withdrawn"),
}
_DATA_SCHEMAS: dict[str, ma.Schema] = {
    "submit": NoDataSchema(), "approve": ApproveDataSchema(), "reject": NoDataSchema(),
    "publish": NoDataSchema(), "withdraw": NoDataSchema(),
}
_COMMENT_REQUIRED = {"reject": "Say why it goes back to draft.", "withdraw": "Give the reason for withdrawing."}


def _entry(actor: Actor, action: str, at: datetime, from_status: str | None, to_status: str,
           comment: str | None) -> dict[str, Any]:
    return {"action": action, "at": at.isoformat(), "actor_kind": actor.kind,
            "actor_id": actor.id if actor.kind != "system" else None,
            "from_status": from_status, "to_status": to_status, "comment": comment}


def _check_attachments(actor: Actor, ids: Sequence[str], already: Sequence[str] = ()) -> list[str]:
    """The ids, each either attached already or uploaded by ``actor`` (anything else: unknown attachment)."""
    wanted = list(dict.fromkeys(ids))
    new = [i for i in wanted if i not in already]
    if len(own_attachments(actor, new)) != len(new):
        raise ValidationFailed("Unknown attachment.", errors={"attachments": ["Unknown attachment."]})
    return wanted


def search_text(title: str, summary: str | None, body: str) -> tuple[str, str]:
    """The title and the body a notice is indexed under (the summary is searched as part of the body)."""
    return title, "\n".join(filter(None, (summary, body)))


def _reindex(notice: Notice) -> None:
    search.index(SEARCH_KIND, notice.id, *search_text(notice.title, notice.summary, notice.body))


def _contribute(notice: Notice, actor: Actor) -> None:
    if actor.id not in notice.contributors:
        notice.contributors = [*notice.contributors, actor.id]


def create(actor: Actor, title: str, body: str, category: str, summary: str | None = None,
           attachments: Sequence[str] = (), at: datetime | None = None) -> Notice:
    """A draft by ``actor`` (a publisher)."""
    if not permissions.can_create(actor):
        raise Forbidden("Only publishers draft notices.")
    now = at or utcnow()
    notice = Notice(title=title, body=body, category=category, summary=summary or None,
                    attachments=_check_attachments(actor, attachments), status="draft",
                    department_id=actor.department_id, author_id=actor.id, contributors=[actor.id],
                    revision=0, created_at=now, updated_at=now,
                    history=[_entry(actor, "create", now, None, "draft", None)])
    db.session.add(notice)
    db.session.flush()
    _reindex(notice)
    audit.record(actor, "notice.created", "notice", notice.id, {"category": category})
    db.session.flush()
    return notice


def load_for_update(notice_id: str) -> Notice:
    notice = db.session.execute(
        sa.select(Notice).where(Notice.id == notice_id).with_for_update()).scalar_one_or_none()
    if notice is None:
        raise NotFound("No such notice.")
    return notice


def is_due(notice: Notice, now: datetime) -> bool:
    """Scheduled and its time has come: public already, whatever the worker has recorded."""
    return notice.status == "scheduled" and notice.published_at is not None and notice.published_at <= now


def effective_status(notice: Notice, now: datetime | None = None) -> str:
    """The status every operation goes by: a scheduled notice whose time has come is published."""
    return "published" if is_due(notice, now or utcnow()) else notice.status


def _snapshot(notice: Notice, editor: str, at: datetime, comment: str | None, reviewer: str | None) -> None:
    notice.revision += 1
    db.session.add(NoticeRevision(
        notice_id=notice.id, number=notice.revision, title=notice.title, summary=notice.summary, body=notice.body,
        category=notice.category, attachments=list(notice.attachments), edited_by=editor, edited_at=at,
        comment=comment, reviewed_by=reviewer))


def _went_public(notice: Notice) -> None:
    """Published now: revision 1 is the text as it became public (never an earlier approved text)."""
    notice.status = "published"
    if notice.revision == 0:
        assert notice.published_at is not None
        _snapshot(notice, notice.contributors[-1] if notice.contributors else notice.author_id,
                  notice.published_at, None, notice.reviewed_by)


def _record_scheduled_publication(notice: Notice, now: datetime) -> None:
    _went_public(notice)
    notice.history = [*notice.history, _entry(SYSTEM, "publish", now, "scheduled", "published", None)]
    notice.updated_at = now
    audit.record(SYSTEM, "notice.publish", "notice", notice.id,
                 {"from_status": "scheduled", "to_status": "published", "scheduled": True})


def _settle(notice: Notice, now: datetime) -> None:
    """Before any change: a scheduled notice whose time has come is recorded as published (as the worker would),
    so that no operation treats a notice the public can read as not yet public."""
    if is_due(notice, now):
        _record_scheduled_publication(notice, now)
        db.session.flush()


def edit(actor: Actor, notice_id: str, changes: Mapping[str, Any], comment: str | None,
         expected_version: int | None, at: datetime | None = None) -> Notice:
    """Change a draft; or propose a change of a published notice (``comment`` required), which waits as the
    notice's pending revision for a reviewer who had no hand in it (``approve``; ``reject`` drops it): the public
    reads the published text until then. A further edit changes the pending revision.

    A notice under review or scheduled is refused (409): reject it back to draft first.
    """
    now = at or utcnow()
    notice = load_for_update(notice_id)
    if not permissions.can_view(actor):
        raise NotFound("No such notice.")
    if not permissions.can_edit(actor, notice):
        raise Forbidden("Only publishers edit notices.")
    check_version(notice.version, expected_version)
    _settle(notice, now)
    if notice.status not in ("draft", "published"):
        raise Conflict(f"A notice that is {notice.status} cannot be edited; reject it back to draft first.",
                       allowed_actions=allowed_actions(actor, notice, now))
    comment = comment.strip() if comment else None
    if notice.status == "published" and not comment:
        raise ValidationFailed("Say what changed in a published notice.",
                               errors={"comment": ["Required when editing a published notice."]})
    values = {k: v for k, v in changes.items() if k in CONTENT_FIELDS}
    pending = notice.pending_revision if notice.status == "published" else None
    base = pending if pending is not None else {name: getattr(notice, name) for name in CONTENT_FIELDS}
    if "attachments" in values:
        values["attachments"] = _check_attachments(
            actor, values["attachments"], [*notice.attachments, *(pending or {}).get("attachments", [])])
    changed = sorted(k for k, v in values.items() if base[k] != v)
    if not changed:
        return notice
    if notice.status == "published":
        proposed = {**{name: base[name] for name in CONTENT_FIELDS}, **{k: values[k] for k in changed}}
        contributors = list(dict.fromkeys([*(pending or {}).get("contributors", []), actor.id]))
        notice.pending_revision = {
            **proposed, "fields": sorted(k for k in CONTENT_FIELDS if proposed[k] != getattr(notice, k)),
            "comment": comment, "edited_by": actor.id, "edited_at": now.isoformat(), "contributors": contributors}
        action = "revise"
    else:
        for name in changed:
            setattr(notice, name, values[name])
        _contribute(notice, actor)
        _reindex(notice)
        action = "edit"
    notice.history = [*notice.history, {**_entry(actor, action, now, notice.status, notice.status, comment),
                                        "fields": changed}]
    notice.updated_at = now
    audit.record(actor, f"notice.{'revision_proposed' if action == 'revise' else 'edited'}", "notice", notice.id,
                 {"fields": changed})
    db.session.flush()
    return notice


def _possible(action: str, notice: Notice, status: str) -> bool:
    statuses, _to = TRANSITIONS[action]
    if status in statuses:
        return True
    # a pending revision of a published notice is approved or rejected like a draft under review
    return action in ("approve", "reject") and status == "published" and notice.pending_revision is not None


def allowed_actions(actor: Actor, notice: Notice, now: datetime | None = None) -> list[str]:
    status = effective_status(notice, now)
    return [action for action in TRANSITIONS
            if _possible(action, notice, status) and permissions.CHECKS[action](actor, notice)]


def _action_data(action: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return load_action_data(_DATA_SCHEMAS[action], data)


def _apply_revision(actor: Actor, notice: Notice, now: datetime) -> dict[str, Any]:
    pending = notice.pending_revision
    assert pending is not None
    for name in CONTENT_FIELDS:
        setattr(notice, name, pending[name])
    _snapshot(notice, pending["edited_by"], now, pending["comment"], actor.id)
    notice.revised_at = now
    notice.pending_revision = None
    _reindex(notice)
    return {"revision": notice.revision, "fields": pending["fields"]}


def act(actor: Actor, notice_id: str, action: str, comment: str | None, data: Mapping[str, Any],
        expected_version: int | None, at: datetime | None = None) -> Notice:
    """Apply one action (409 stale version or not possible now, 403 not yours, 422 invalid data).

    On a published notice with a pending revision, ``approve`` makes the revision the published text (a new
    revision number) and ``reject`` drops it; the notice stays published either way."""
    if action not in TRANSITIONS:
        raise ValidationFailed("Unknown action.", errors={"action": [f"Choose from {', '.join(TRANSITIONS)}."]})
    now = at or utcnow()
    notice = load_for_update(notice_id)
    if not permissions.can_view(actor):
        raise NotFound("No such notice.")
    check_version(notice.version, expected_version)
    _settle(notice, now)
    _statuses, to_status = TRANSITIONS[action]
    if not _possible(action, notice, notice.status):
        raise Conflict(f"A notice that is {notice.status} cannot be given {action!r}.",
                       allowed_actions=allowed_actions(actor, notice, now))
    if not permissions.CHECKS[action](actor, notice):
        if action == "approve" and permissions.may_review(actor):
            raise Forbidden("You wrote, edited or submitted this text: another reviewer must approve it.")
        if action == "submit" and permissions.can_create(actor):
            raise Forbidden("Only the author, or a publisher who edited the draft, submits it for review.")
        raise Forbidden(f"You may not {action} this notice.")
    values = _action_data(action, data)
    comment = comment.strip() if comment else None
    if action in _COMMENT_REQUIRED and not comment:
        raise ValidationFailed(_COMMENT_REQUIRED[action], errors={"comment": [f"Required for {action}."]})

    from_status = notice.status
    details: dict[str, Any] = {}
    revising = from_status == "published" and action in ("approve", "reject")
    if revising:
        to_status = "published"
        if action == "approve":
            details = _apply_revision(actor, notice, now)
        else:
            details = {"dropped_fields": (notice.pending_revision or {}).get("fields", [])}
            notice.pending_revision = None
    elif action == "submit":
        _contribute(notice, actor)
        notice.submitted_at = now
    elif action == "approve":
        publish_at = values["publish_at"]
        if publish_at is not None and publish_at <= now:
            raise ValidationFailed("The publish time has passed.",
                                   errors={"data.publish_at": ["Must be in the future; leave it out to publish "
                                                               "now."]})
        notice.reviewed_by, notice.reviewed_at = actor.id, now
        notice.published_at = publish_at or now
        if publish_at is not None:
            to_status = "scheduled"
        else:
            _went_public(notice)
    elif action == "reject":
        notice.reviewed_by = notice.reviewed_at = notice.published_at = None
    elif action == "publish":
        notice.published_at = now
        _went_public(notice)
    elif action == "withdraw":
        notice.withdrawn_at, notice.withdrawal_reason = now, comment
        notice.pending_revision = None
    notice.status = to_status
    notice.history = [*notice.history, _entry(actor, action, now, from_status, to_status, comment)]
    notice.updated_at = now
    audit.record(actor, f"notice.{action}", "notice", notice.id,
                 {"from_status": from_status, "to_status": to_status, **details,
                  **({"publish_at": notice.published_at.isoformat()} if to_status == "scheduled"
                     and notice.published_at else {})})
    db.session.flush()
    return notice


def publish_due_notices(now: datetime | None = None) -> int:
    """Mark the scheduled notices whose time has come as published; returns how many. For the worker: it runs
    this periodically and commits. (They are public from their time on regardless; this records it.)"""
    now = now or utcnow()
    due = db.session.execute(
        sa.select(Notice).where(Notice.status == "scheduled", Notice.published_at <= now)
        .order_by(Notice.published_at, Notice.id).with_for_update()
    ).scalars().all()
    for notice in due:
        _record_scheduled_publication(notice, now)
    db.session.flush()
    return len(due)


def reindex_all(batch: int = 500) -> int:
    """Segment every notice again (after an upgrade of the segmentation or of jieba's dictionary); returns how
    many. The caller commits."""
    ids = list(db.session.execute(sa.select(Notice.id).order_by(Notice.id)).scalars())
    for start in range(0, len(ids), batch):
        for notice in db.session.execute(sa.select(Notice).where(Notice.id.in_(ids[start:start + batch]))).scalars():
            _reindex(notice)
    return len(ids)
