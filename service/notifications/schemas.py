"""Schemas of subscribe-message templates and acceptances, staff notifications and outbox messages."""

from __future__ import annotations

import marshmallow as ma

from service.core.pagination import PageArgs
from service.core.schemas import LocalDateTime
from service.notifications.models import MESSAGE_STATUSES


class TemplateSchema(ma.Schema):
    id = ma.fields.String(metadata={"description": "WeChat's template id, for wx.requestSubscribeMessage."})
    event = ma.fields.String(metadata={"description": "request_accepted, materials_requested, request_completed, "
                                                      "request_rejected, consultation_answered, follow_up_answered"})
    title = ma.fields.String()
    unused = ma.fields.Integer(metadata={"description": "Messages of this template your acceptances still allow."})


class TemplateListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TemplateSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True, metadata={"description": "Always null."})


class SubscriptionCreateSchema(ma.Schema):
    accepted = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=128)), required=True,
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "The template ids wx.requestSubscribeMessage reported as 'accept'."})


class SubscriptionResultSchema(ma.Schema):
    accepted = ma.fields.List(ma.fields.String(), required=True,
                              metadata={"description": "The template ids recorded, one message each."})
    unused = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                            metadata={"description": "Per template id offered: messages still allowed."})


class NotificationSchema(ma.Schema):
    id = ma.fields.String()
    event = ma.fields.String(metadata={"description": "step_due_soon, step_overdue, step_escalated, "
                                                      "request_supervised, countersign_waiting, bad_rating, "
                                                      "supervision_reminder"})
    title = ma.fields.String()
    body = ma.fields.String()
    subject_type = ma.fields.String(metadata={"description": "What it is about: request."})
    subject_id = ma.fields.String()
    data = ma.fields.Dict(metadata={"description": "due_at, step, level … as the event has them."})
    created_at = LocalDateTime()
    read_at = LocalDateTime(allow_none=True)


class NotificationListArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=None, metadata={"description": "true: only unread; false: only read."})


class NotificationPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NotificationSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
    unread = ma.fields.Integer(required=True, metadata={"description": "How many of mine are unread in all."})


class MarkReadSchema(ma.Schema):
    ids = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=26)), load_default=None,
                         validate=ma.validate.Length(min=1, max=100),
                         metadata={"description": "Notifications to mark read; all of mine when left out."})


class MarkReadResultSchema(ma.Schema):
    marked = ma.fields.Integer(required=True, metadata={"description": "How many were unread and now are read."})


class OutboxMessageSchema(ma.Schema):
    id = ma.fields.String()
    idempotency_key = ma.fields.String()
    channel = ma.fields.String(metadata={"description": "wechat or staff"})
    event = ma.fields.String()
    recipient_kind = ma.fields.String()
    recipient_id = ma.fields.String()
    subject_type = ma.fields.String()
    subject_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending, sending, delivered, skipped, refused, dead"})
    attempts = ma.fields.Integer()
    next_attempt_at = LocalDateTime()
    last_error = ma.fields.String(allow_none=True)
    created_at = LocalDateTime()
    delivered_at = LocalDateTime(allow_none=True)


class OutboxListArgs(PageArgs):
    status = ma.fields.String(load_default="dead", validate=ma.validate.OneOf(MESSAGE_STATUSES),
                              metadata={"description": "Default dead: the dead letters."})
    event = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))
