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
    supervisions = ma.fields.List(ma.fields.Nested(lambda: SupervisionSchema()), metadata={
        "description": "Open supervisions (督办) of the request."})
    notes = ma.fields.List(ma.fields.Nested(lambda: NoteSchema()), metadata={
        "description": "Internal notes: staff only, never shown to the resident."})
    steps = ma.fields.List(ma.fields.Nested(StepVisitSchema), metadata={
        "description": "Each stay on a step: how long it took, and whether that was handling or waiting."})


class TimelineEntrySchema(ma.Schema):
    """One public event, without who acted: residents never see staff names."""

    action = ma.fields.String()
    at = LocalDateTime()
    from_step = ma.fields.String(allow_none=True)
    to_step = ma.fields.String()
    comment = ma.fields.String(allow_none=True)


class FollowUpSchema(ma.Schema):
    status = ma.fields.String(attribute="follow_up_status")
    due_at = LocalDateTime(attribute="follow_up_due_at", allow_none=True)
    answer = ma.fields.String(attribute="follow_up_answer", allow_none=True)
    answered_at = LocalDateTime(attribute="follow_up_answered_at", allow_none=True)


class RatingSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    level = ma.fields.Integer(metadata={"description": "5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意"})
    comment = ma.fields.String(allow_none=True)
    tags = ma.fields.List(ma.fields.String())
    created_at = LocalDateTime(dump_only=True)
    follow_up = ma.fields.Function(lambda rating: FollowUpSchema().dump(rating)
                                   if rating.follow_up_status != "none" else None,
                                   metadata={"description": "差评整改: opened by a rating of 1 or 2."})


class RatingCreateSchema(ma.Schema):
    level = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1, max=5))
    comment = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))
    tags = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=32)), load_default=list,
                          validate=ma.validate.Length(max=10))


class ResidentRequestSummarySchema(ma.Schema):
    id = ma.fields.String()
    service_id = ma.fields.String()
    status = ma.fields.String()
    current_step = ma.fields.String()
    version = ma.fields.Integer()
    submitted_at = LocalDateTime()
    due_at = LocalDateTime()
    closed_at = LocalDateTime(allow_none=True)


class ResidentRequestSchema(ResidentRequestSummarySchema):
    service_name = ma.fields.String()
    current_step_name = ma.fields.String(metadata={"description": "Where the request stands, in plain words."})
    paused = ma.fields.Boolean(metadata={"description": "The time limit is paused (e.g. waiting for you)."})
    paused_reason = ma.fields.String(allow_none=True)
    asked = ma.fields.List(ma.fields.String(), metadata={"description": "What you are asked to supply now."})
    allowed_actions = ma.fields.List(ma.fields.String(), metadata={"description": "supplement, withdraw, … now"})
    form = ma.fields.Dict()
    materials = ma.fields.Dict()
    timeline = ma.fields.List(ma.fields.Nested(TimelineEntrySchema))
    rating = ma.fields.Nested(RatingSchema, allow_none=True)


class RequestCreateSchema(ma.Schema):
    service_id = ma.fields.String(required=True)
    form = ma.fields.Dict(keys=ma.fields.String(), required=True)
    materials = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                               load_default=dict)


class SupplementSchema(ma.Schema):
    materials = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                               load_default=dict)
    answers = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)
    comment = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class WithdrawSchema(ma.Schema):
    comment = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class ResidentRequestListArgs(ma.Schema):
    cursor = ma.fields.String(load_default=None)
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(
        ["submitted", "in_progress", "awaiting_supplement", "completed", "rejected", "withdrawn"]))


class NoteSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    body = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))
    author_id = ma.fields.String(dump_only=True)
    department_id = ma.fields.String(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)


class TaskSchema(ma.Schema):
    id = ma.fields.String()
    service_id = ma.fields.String()
    status = ma.fields.String()
    current_step = ma.fields.String()
    role = ma.fields.String(metadata={"description": "The role the step expects (handler, supervisor, …)."})
    due_at = LocalDateTime(metadata={"description": "The step's deadline, else the request's: what the queue "
                                                    "is sorted by."})
    request_due_at = LocalDateTime()
    overdue = ma.fields.Boolean()
    claimed_by = ma.fields.String(allow_none=True, metadata={"description": "null when unclaimed or the claim "
                                                                           "lapsed (CLAIM_TIMEOUT_HOURS)"})
    submitted_at = LocalDateTime()
    version = ma.fields.Integer()


class TaskCountsSchema(ma.Schema):
    all = ma.fields.Integer()
    overdue = ma.fields.Integer()
    claimed_by_me = ma.fields.Integer()
    unclaimed = ma.fields.Integer()


class TaskPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TaskSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
    counts = ma.fields.Nested(TaskCountsSchema, metadata={"description": "The whole queue, whatever the filters."})


class TaskArgs(ma.Schema):
    cursor = ma.fields.String(load_default=None)
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    service_id = ma.fields.String(load_default=None)
    step = ma.fields.String(load_default=None)
    overdue = ma.fields.Boolean(load_default=None)
    due_before = ma.fields.AwareDateTime(load_default=None)
    claimed_by_me = ma.fields.Boolean(load_default=None)
    supervised = ma.fields.Boolean(load_default=None, metadata={"description": "Flagged by a supervisor (督办)."})


class FollowUpTaskSchema(ma.Schema):
    """A bad rating as the responsible department sees it."""

    id = ma.fields.String()
    request_id = ma.fields.String()
    service_id = ma.fields.String()
    level = ma.fields.Integer()
    comment = ma.fields.String(allow_none=True)
    tags = ma.fields.List(ma.fields.String())
    created_at = LocalDateTime()
    version = ma.fields.Integer()
    follow_up = ma.fields.Function(lambda rating: FollowUpSchema().dump(rating))


class FollowUpListArgs(ma.Schema):
    cursor = ma.fields.String(load_default=None)
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["open", "answered", "closed"]))


class FollowUpAnswerSchema(ma.Schema):
    answer = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class RequestHitSchema(ResidentRequestSummarySchema):
    applicant_name = ma.fields.String(allow_none=True, metadata={"description": "Masked."})
    applicant_phone = ma.fields.String(allow_none=True, metadata={"description": "Masked."})
    step_due_at = LocalDateTime(allow_none=True)


class RequestSearchArgs(ma.Schema):
    cursor = ma.fields.String(load_default=None)
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    request_id = ma.fields.String(load_default=None, data_key="id")
    service_id = ma.fields.String(load_default=None)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(
        ["submitted", "in_progress", "awaiting_supplement", "completed", "rejected", "withdrawn"]))
    applicant = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=64),
                                 metadata={"description": "Part of the applicant's name, or their phone number."})
    submitted_from = ma.fields.AwareDateTime(load_default=None)
    submitted_to = ma.fields.AwareDateTime(load_default=None)
    overdue = ma.fields.Boolean(load_default=None)


class SupervisionSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    request_id = ma.fields.String(dump_only=True)
    supervisor_id = ma.fields.String(dump_only=True)
    comment = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
    remind_at = ma.fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "When the supervisor wants to be reminded (the worker sends it)."})
    created_at = LocalDateTime(dump_only=True)
    resolved_at = LocalDateTime(dump_only=True, allow_none=True)


class ReminderArgs(ma.Schema):
    cursor = ma.fields.String(load_default=None)
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    due_before = ma.fields.AwareDateTime(load_default=None)


class FollowUpCloseSchema(ma.Schema):
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
