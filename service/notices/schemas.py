"""Notice schemas: what publishers send, what the console shows, what the public reads, the search page."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.core.pagination import PageArgs
from service.core.schemas import LocalDateTime
from service.core.search import no_control_characters, search_page_schema
from service.notices.models import CATEGORIES, STATUSES

ACTIONS = ("submit", "approve", "reject", "publish", "withdraw")
MAX_ATTACHMENTS = 20
HTML_DESCRIPTION = "HTML: the text escaped, the words of `q` in <mark>…</mark>."


def _stripped(data: Any, *names: str) -> Any:
    if not isinstance(data, dict):
        return data
    return {**data, **{n: data[n].strip() for n in names if isinstance(data.get(n), str)}}


# Free text refuses C0 control characters but tab, line feed and carriage return (422): feeds are XML.
_TITLE = ma.validate.And(ma.validate.Length(min=2, max=200), no_control_characters)
_BODY = ma.validate.And(ma.validate.Length(min=1, max=50000), no_control_characters)
_SUMMARY = ma.validate.And(ma.validate.Length(max=500), no_control_characters)
_COMMENT = ma.validate.And(ma.validate.Length(max=2000), no_control_characters)
_CATEGORY = ma.validate.OneOf(CATEGORIES)
_ATTACHMENT_IDS = ma.validate.Length(max=MAX_ATTACHMENTS)


# --- staff ---------------------------------------------------------------------------------------------------

class NoticeCreateSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=_TITLE)
    body = ma.fields.String(required=True, validate=_BODY,
                            metadata={"description": "Plain text; paragraphs separated by blank lines."})
    category = ma.fields.String(required=True, validate=_CATEGORY,
                                metadata={"description": "announcement, policy, interpretation or public_notice"})
    summary = ma.fields.String(load_default=None, allow_none=True, validate=_SUMMARY)
    attachments = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=26)), load_default=list,
                                 validate=_ATTACHMENT_IDS,
                                 metadata={"description": "Ids of files you uploaded with "
                                                          "POST /console/v1/notices/attachments."})

    @ma.pre_load
    def _normalise(self, data: Any, **_kwargs: Any) -> Any:
        return _stripped(data, "title", "body", "summary")


class NoticeUpdateSchema(ma.Schema):
    """A change of a draft; or of a published notice, `comment` saying what changed: it waits as the notice's
    `pending_revision` until a reviewer who had no hand in it approves it (then a new revision) or rejects it."""

    title = ma.fields.String(validate=_TITLE)
    body = ma.fields.String(validate=_BODY)
    category = ma.fields.String(validate=_CATEGORY)
    summary = ma.fields.String(allow_none=True, validate=_SUMMARY)
    attachments = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=26)),
                                 validate=_ATTACHMENT_IDS)
    comment = ma.fields.String(load_default=None, validate=_COMMENT, metadata={
        "description": "What changed; required for a published notice, whose change then waits for a reviewer "
                       "(`pending_revision`)."})
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                                         metadata={"description": "The version you read (or send If-Match)."})

    @ma.pre_load
    def _normalise(self, data: Any, **_kwargs: Any) -> Any:
        return _stripped(data, "title", "body", "summary", "comment")


class NoticeActionSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(ACTIONS), metadata={
        "description": "submit (the author or a publisher who edited it: draft → in_review); approve (a "
                       "reviewer who had no hand in it: → published, or → scheduled with data.publish_at; on a "
                       "published notice, its pending revision becomes the published text); reject (in_review, "
                       "or scheduled before its time → draft; on a published notice, drops its pending "
                       "revision; comment required); publish (scheduled → published now); withdraw (published "
                       "or scheduled → withdrawn, comment required: the reason). A scheduled notice whose time "
                       "has come is published for every action."})
    comment = ma.fields.String(load_default=None, validate=_COMMENT)
    data = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                                         metadata={"description": "The version you read (or send If-Match)."})


class ApproveDataSchema(ma.Schema):
    publish_at = ma.fields.AwareDateTime(load_default=None, metadata={
        "description": "ISO 8601 with offset, in the future: publish then (→ scheduled); absent: publish now."})


class NoDataSchema(ma.Schema):
    """Actions that take no data."""


class NoticeListArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(STATUSES))
    category = ma.fields.String(load_default=None, validate=_CATEGORY)
    q = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=100),
                         metadata={"description": "Words of the title or body (Chinese full-text search)."})


class NoticeHistoryEntrySchema(ma.Schema):
    action = ma.fields.String(metadata={"description": "create, edit, revise, submit, approve, reject, publish, "
                                                       "withdraw"})
    at = LocalDateTime()
    actor_kind = ma.fields.String()
    actor_id = ma.fields.String(allow_none=True)
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    comment = ma.fields.String(allow_none=True)


class NoticeAttachmentSchema(ma.Schema):
    id = ma.fields.String()
    filename = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()


class StaffNoticeSummarySchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    category = ma.fields.String()
    status = ma.fields.String(metadata={"description": "draft, in_review, scheduled, published or withdrawn"})
    author_id = ma.fields.String()
    department_id = ma.fields.String(allow_none=True)
    published_at = LocalDateTime(allow_none=True, metadata={
        "description": "When it is (or was, or will be when scheduled) public."})
    revision = ma.fields.Integer(metadata={"description": "0 before publication; 1 as it became public; +1 per "
                                                          "approved change after publication."})
    created_at = LocalDateTime()
    updated_at = LocalDateTime()
    version = ma.fields.Integer()


class PendingRevisionSchema(ma.Schema):
    title = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    body = ma.fields.String()
    category = ma.fields.String()
    attachments = ma.fields.List(ma.fields.String())
    changed = ma.fields.List(ma.fields.String(), attribute="fields", data_key="fields",
                             metadata={"description": "What differs from the published text."})
    comment = ma.fields.String(allow_none=True)
    edited_by = ma.fields.String(metadata={"description": "Who changed it last."})
    edited_at = LocalDateTime()
    contributors = ma.fields.List(ma.fields.String(), metadata={
        "description": "Everyone who edited it; none of them may approve it."})


class StaffNoticeSchema(StaffNoticeSummarySchema):
    body = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    attachments = ma.fields.List(ma.fields.Nested(NoticeAttachmentSchema), attribute="attachment_infos")
    contributors = ma.fields.List(ma.fields.String(), metadata={
        "description": "Staff who wrote, edited or submitted the text; none of them may approve it."})
    submitted_at = LocalDateTime(allow_none=True)
    reviewed_by = ma.fields.String(allow_none=True)
    reviewed_at = LocalDateTime(allow_none=True)
    withdrawn_at = LocalDateTime(allow_none=True)
    withdrawal_reason = ma.fields.String(allow_none=True)
    revised_at = LocalDateTime(allow_none=True)
    history = ma.fields.List(ma.fields.Nested(NoticeHistoryEntrySchema))
    pending_revision = ma.fields.Nested(PendingRevisionSchema, allow_none=True, metadata={
        "description": "A change of the published text waiting for review (approve or reject); null otherwise."})
    allowed_actions = ma.fields.List(ma.fields.String(), metadata={"description": "What you may do now."})


class StaffNoticeSearchItemSchema(StaffNoticeSummarySchema):
    highlighted_title = ma.fields.String(metadata={"description": HTML_DESCRIPTION})
    snippet = ma.fields.String(metadata={"description": "Part of the body around the best match. "
                                                        + HTML_DESCRIPTION})


class NoticeRevisionSchema(ma.Schema):
    number = ma.fields.Integer()
    title = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    body = ma.fields.String()
    category = ma.fields.String()
    attachments = ma.fields.List(ma.fields.String())
    edited_by = ma.fields.String()
    edited_at = LocalDateTime()
    comment = ma.fields.String(allow_none=True)
    reviewed_by = ma.fields.String(allow_none=True, metadata={"description": "The reviewer who approved it."})


class NoticeRevisionListArgs(PageArgs):
    pass


# --- public --------------------------------------------------------------------------------------------------

class PublicListArgs(PageArgs):
    q = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=100), metadata={
        "description": "Chinese full-text search of title and body: words need no spaces, two-character words "
                       "(路灯, 噪音) and Latin words or numbers (5G) are found; every word must occur; the most "
                       "relevant first."})
    category = ma.fields.String(load_default=None, validate=_CATEGORY)


class PublicNoticeRevisionSchema(ma.Schema):
    number = ma.fields.Integer()
    edited_at = LocalDateTime()
    comment = ma.fields.String(allow_none=True)


class PublicNoticeSummarySchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    category = ma.fields.String()
    category_name = ma.fields.String(metadata={"description": "The category in words (通知公告, 政策文件, …)."})
    status = ma.fields.String(metadata={"description": "Always published here."})
    published_at = LocalDateTime()
    revised_at = LocalDateTime(allow_none=True)
    revision = ma.fields.Integer()
    version = ma.fields.Integer()
    highlighted_title = ma.fields.String(metadata={"description": HTML_DESCRIPTION})
    snippet = ma.fields.String(metadata={"description": "The beginning of the body, or with `q` the part around "
                                                        "the best match. " + HTML_DESCRIPTION})


class PublicNoticeSchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    summary = ma.fields.String(allow_none=True)
    body = ma.fields.String()
    category = ma.fields.String()
    category_name = ma.fields.String()
    status = ma.fields.String()
    published_at = LocalDateTime()
    revised_at = LocalDateTime(allow_none=True)
    revision = ma.fields.Integer()
    revisions = ma.fields.List(ma.fields.Nested(PublicNoticeRevisionSchema),
                               metadata={"description": "Changes since publication, with what changed."})
    attachments = ma.fields.List(ma.fields.Nested(NoticeAttachmentSchema), attribute="attachment_infos",
                                 metadata={"description": "Download from /mp/v1/notices/{id}/attachments/{id}."})
    version = ma.fields.Integer()


PublicNoticePageSchema = search_page_schema(PublicNoticeSummarySchema, "PublicNoticePageSchema")
StaffNoticePageSchema = search_page_schema(StaffNoticeSearchItemSchema, "StaffNoticePageSchema")
