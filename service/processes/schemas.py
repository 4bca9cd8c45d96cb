"""Schemas of process versions, uploads, comparisons and migrations."""

from __future__ import annotations

import marshmallow as ma

from service.core.schemas import LocalDateTime


class ProcessVersionSchema(ma.Schema):
    id = ma.fields.String()
    code = ma.fields.String()
    version = ma.fields.Integer()
    name = ma.fields.String()
    active = ma.fields.Boolean()
    checksum = ma.fields.String()
    created_at = LocalDateTime()
    activated_at = LocalDateTime(allow_none=True)


class ProcessVersionDetailSchema(ProcessVersionSchema):
    definition = ma.fields.Dict(metadata={"description": "The definition, as GET /console/v1/processes/schema says."})


class ProcessListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ProcessVersionSchema), metadata={
        "description": "The newest version of each process."})


class ProcessVersionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ProcessVersionSchema))


class ProcessUploadSchema(ma.Schema):
    definition = ma.fields.Dict(required=True, metadata={"description": "A process definition (JSON Schema at "
                                                                       "GET /console/v1/processes/schema)."})
    activate = ma.fields.Boolean(load_default=False)


class CompareArgs(ma.Schema):
    from_version = ma.fields.Integer(required=True, data_key="from", validate=ma.validate.Range(min=1))
    to_version = ma.fields.Integer(required=True, data_key="to", validate=ma.validate.Range(min=1))


class ComparisonSchema(ma.Schema):
    code = ma.fields.String()
    from_version = ma.fields.Integer()
    to_version = ma.fields.Integer()
    steps_added = ma.fields.List(ma.fields.String())
    steps_removed = ma.fields.List(ma.fields.String())
    steps_changed = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
    settings_changed = ma.fields.List(ma.fields.String())


class MigrationSchema(ma.Schema):
    from_version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    to_version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    dry_run = ma.fields.Boolean(load_default=True)


class MigrationPlanSchema(ma.Schema):
    code = ma.fields.String()
    from_version = ma.fields.Integer()
    to_version = ma.fields.Integer()
    dry_run = ma.fields.Boolean()
    movable = ma.fields.List(ma.fields.String(), metadata={"description": "Ids of requests that (would) move."})
    blocked = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                             metadata={"description": "Request id → why it cannot move."})
