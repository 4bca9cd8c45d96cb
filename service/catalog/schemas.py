"""Schemas of the public catalog: services with their form, materials and process overview."""

from __future__ import annotations

import marshmallow as ma

from service.catalog.forms import FIELD_TYPES, MATERIAL_TYPES, TEXT_MAX_LENGTH, TEXTAREA_MAX_LENGTH
from service.core.pagination import PageArgs


class FormOptionSchema(ma.Schema):
    value = ma.fields.String(required=True, metadata={"description": "What a submission sends."})
    label = ma.fields.String(required=True, metadata={"description": "What the resident sees."})


class FormFieldSchema(ma.Schema):
    key = ma.fields.String(required=True, metadata={"description": "The name of the value in a submission's form."})
    label = ma.fields.String(required=True)
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(FIELD_TYPES), metadata={
        "description": (
            f"text: one line, at most {TEXT_MAX_LENGTH} characters; textarea: at most {TEXTAREA_MAX_LENGTH}; "
            "number: a JSON number or a decimal string; date: YYYY-MM-DD; phone: mainland mobile or landline "
            "(010-12345678); email; id_number: 18-character resident ID, checksum verified; uscc: unified social "
            "credit code, checksum verified; choice: one option value; multi_choice: a list of option values "
            "without duplicates; address: a string or {text, lat?, lng?} (lat and lng together), stored as the "
            "object."
        )})
    required = ma.fields.Boolean(required=True)
    options = ma.fields.List(ma.fields.Nested(FormOptionSchema), metadata={
        "description": "Only for choice and multi_choice."})
    help = ma.fields.String(allow_none=True, metadata={"description": "A hint shown under the field."})


class FormSchema(ma.Schema):
    """The form the mini program draws; a submission's ``form`` is validated against the same definition."""

    # (``fields`` is a Schema attribute of marshmallow's own, hence the other name)
    field_list = ma.fields.List(ma.fields.Nested(FormFieldSchema), required=True, data_key="fields",
                                attribute="fields")


class MaterialSchema(ma.Schema):
    """A material (材料) a submission attaches: per key, the ids of files uploaded with POST /mp/v1/attachments."""

    key = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    required = ma.fields.Boolean(required=True, metadata={"description": "At least one file is needed."})
    types = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(list(MATERIAL_TYPES))), required=True,
                           metadata={"description": "MIME types accepted for this material (detected from content)."})
    max_bytes = ma.fields.Integer(required=True, metadata={"description": "Largest file accepted, in bytes."})
    help = ma.fields.String(allow_none=True)


class ProcessStepSchema(ma.Schema):
    key = ma.fields.String(required=True)
    name = ma.fields.String(required=True, metadata={"description": "The step's public name."})
    kind = ma.fields.String(required=True, metadata={
        "description": "task (a department handles it), countersign (several departments), "
                       "resident (waiting for the resident, e.g. to supplement materials)."})
    time_limit_working_days = ma.fields.Integer(allow_none=True, metadata={
        "description": "The step's own time limit, if it has one."})


class ProcessOutcomeSchema(ma.Schema):
    key = ma.fields.String(required=True)
    name = ma.fields.String(required=True, metadata={"description": "The public name of this ending."})
    outcome = ma.fields.String(required=True, metadata={
        "description": "The request status it ends with: completed, rejected or withdrawn."})


class ProcessOverviewSchema(ma.Schema):
    """How a request of this service proceeds, as the resident will see it (the process's active version)."""

    code = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    initial_step = ma.fields.String(required=True, metadata={"description": "Where a new request starts."})
    steps = ma.fields.List(ma.fields.Nested(ProcessStepSchema), required=True, metadata={
        "description": "The steps a request can stand on while open, in the definition's order."})
    outcomes = ma.fields.List(ma.fields.Nested(ProcessOutcomeSchema), required=True, metadata={
        "description": "How a request can end (the terminal steps), in the definition's order."})


class ServiceSchema(ma.Schema):
    """A catalog item (事项)."""

    id = ma.fields.String(required=True)
    code = ma.fields.String(required=True, metadata={"description": "Stable and human-readable, e.g. repair."})
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    time_limit_working_days = ma.fields.Integer(required=True, metadata={
        "description": "The legal time limit (法定时限) in working days."})
    form = ma.fields.Nested(FormSchema, required=True)
    materials = ma.fields.List(ma.fields.Nested(MaterialSchema), required=True)


class ServiceDetailSchema(ServiceSchema):
    process = ma.fields.Nested(ProcessOverviewSchema, allow_none=True, required=True, metadata={
        "description": "null while the service's process has no active version (it cannot be requested then)."})


class ServiceListArgs(PageArgs):
    category = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64),
                                metadata={"description": "Only services of this category (empty: all)."})
    q = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100),
                         metadata={"description": "Part of the service's name, case-insensitive (empty: all)."})


class CategorySchema(ma.Schema):
    category = ma.fields.String(required=True)
    count = ma.fields.Integer(required=True, metadata={"description": "Active services in this category."})


class CategoryListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CategorySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True, metadata={
        "description": "Always null: every category is on the one page."})


class StaffServiceSchema(ServiceSchema):
    """A catalog item as administrators manage it."""

    process_code = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    version = ma.fields.Integer(required=True)


class ServiceCreateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z][a-z0-9_-]{1,63}$"))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    category = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    process_code = ma.fields.String(required=True)
    time_limit_working_days = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1,
                                                                                                        max=365))
    form = ma.fields.Dict(load_default=lambda: {"fields": []}, metadata={"description": "As FormSchema."})
    materials = ma.fields.List(ma.fields.Dict(), load_default=list, metadata={"description": "As MaterialSchema."})


class ServiceUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    category = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    description = ma.fields.String(validate=ma.validate.Length(max=5000))
    process_code = ma.fields.String()
    time_limit_working_days = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=365))
    form = ma.fields.Dict()
    materials = ma.fields.List(ma.fields.Dict())
    active = ma.fields.Boolean()
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class StaffServiceListArgs(PageArgs):
    include_inactive = ma.fields.Boolean(load_default=False)
