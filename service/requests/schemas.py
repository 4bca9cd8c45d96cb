"""Schemas of requests as staff see them, and of the actions they take."""

from __future__ import annotations

import marshmallow as ma

from service.core.schemas import LocalDateTime


class ActionSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"))
    comment = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=4000))
    data = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                                         metadata={"description": "The version you read (or send If-Match)."})


class AssigneeSchema(ma.Schema):
    department_id = ma.fields.String()
    role = ma.fields.String()


class SuspensionSchema(ma.Schema):
    reason = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "pause (waiting on the resident) or exclude (not counted)"})
    started_at = LocalDateTime()
    ended_at = LocalDateTime(allow_none=True)


class ExtensionSchema(ma.Schema):
    days = ma.fields.Integer()
    reason = ma.fields.String()
    at = LocalDateTime()


class ClockSchema(ma.Schema):
    budget_days = ma.fields.Integer()
    total_budget_days = ma.fields.Integer()
    paused = ma.fields.Boolean()
    paused_reason = ma.fields.String(allow_none=True)
    overdue = ma.fields.Boolean()
    working_days_overdue = ma.fields.Integer()
    suspensions = ma.fields.List(ma.fields.Nested(SuspensionSchema))
    extensions = ma.fields.List(ma.fields.Nested(ExtensionSchema))
    restarts = ma.fields.List(LocalDateTime())


class EventSchema(ma.Schema):
    seq = ma.fields.Integer()
    action = ma.fields.String()
    at = LocalDateTime()
    actor_kind = ma.fields.String()
    actor_id = ma.fields.String()
    actor_department = ma.fields.String(allow_none=True)
    from_step = ma.fields.String(allow_none=True)
    to_step = ma.fields.String()
    comment = ma.fields.String(allow_none=True)
    data = ma.fields.Dict()
    public = ma.fields.Boolean()


class StepVisitSchema(ma.Schema):
    step = ma.fields.String()
    entered_at = LocalDateTime()
    left_at = LocalDateTime(allow_none=True)
    waiting = ma.fields.String(allow_none=True, metadata={
        "description": "resident or third_party while waiting on them; null while the department handles it"})
    working_days = ma.fields.Integer()
    seconds = ma.fields.Float()


class StaffRequestSchema(ma.Schema):
    id = ma.fields.String()
    service_id = ma.fields.String()
    process_code = ma.fields.String()
    process_version = ma.fields.Integer()
    status = ma.fields.String()
    current_step = ma.fields.String()
    current_step_name = ma.fields.String()
    version = ma.fields.Integer()
    submitted_at = LocalDateTime()
    due_at = LocalDateTime()
    step_due_at = LocalDateTime(allow_none=True)
    closed_at = LocalDateTime(allow_none=True)
    claimed_by = ma.fields.String(allow_none=True)
    supervised = ma.fields.Boolean()
    countersign = ma.fields.Dict(allow_none=True, metadata={
        "description": "{required: [department code], signatures: [[department code, decision]], pending}"})
    form = ma.fields.Dict()
    materials = ma.fields.Dict()
    allowed_actions = ma.fields.List(ma.fields.String())
    assignees = ma.fields.List(ma.fields.Nested(AssigneeSchema))
    clock = ma.fields.Nested(ClockSchema)
    events = ma.fields.List(ma.fields.Nested(EventSchema))
    steps = ma.fields.List(ma.fields.Nested(StepVisitSchema), metadata={
        "description": "Each stay on a step: how long it took, and whether that was handling or waiting."})
