"""Subscribe-message schemas: the templates the mini program may offer and the acceptances it reports."""

from __future__ import annotations

import marshmallow as ma


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
